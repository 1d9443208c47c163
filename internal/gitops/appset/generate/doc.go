// Package generate runs an ApplicationSet's generators and returns its
// parameter sets, with Argo CD's parameter names:
//
//   - list: each element as given (without goTemplate, string values only,
//     and "values" flattened to values.<key>).
//   - clusters: name, nameNormalized, server, project,
//     metadata.labels.<key>, metadata.annotations.<key> (goTemplate: the
//     metadata.labels and metadata.annotations maps), values.<key>.
//   - git directories: path, path.basename, path.basenameNormalized,
//     path[n] (goTemplate: path.path, path.basename,
//     path.basenameNormalized, path.segments), values.<key>.
//   - git files: each object's keys flattened with dots (goTemplate: as
//     nested values), the directory's path parameters and path.filename,
//     path.filenameNormalized; values.<key>.
//   - gitBranches (gantry's): branch, branchNormalized (a DNS label),
//     sha, shortSha, values.<key>.
//   - matrix: the cartesian product of two generators, the second
//     interpolated with each set of the first; merge: the first
//     generator's sets overridden by later ones with equal mergeKeys.
//
// Git is read through Sources and clusters through Clusters; CacheSources
// and RegistryClusters adapt gantry's source cache and cluster registry.
package generate
