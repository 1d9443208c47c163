// Package template renders an ApplicationSet's templates for one parameter
// set, as Argo CD's ApplicationSet controller does: fasttemplate's
// {{param}} replacement, or text/template with Sprig's functions (minus env,
// expandenv and getHostByName) plus normalize, slugify, toYaml, fromYaml and
// fromYamlArray when spec.goTemplate is set. Every string of the template is
// rendered on its own (map keys too); other values are kept.
//
// The result is an Application with a valid name (a DNS subdomain), and, for
// gantry's spec.virtualCluster, the rendered VirtualCluster template whose
// name, namespace and cluster name become parameters of the Application
// template (virtualCluster.name, virtualCluster.namespace,
// virtualCluster.clusterName). Duplicates finds two elements rendering one
// Application. Errors name the element and the field.
package template
