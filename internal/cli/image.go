package cli

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"gantry.dev/gantry/internal/imageapi"
	"gantry.dev/gantry/internal/realnode"
	"gantry.dev/gantry/internal/runstate"
)

func newImage(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "image",
		Aliases: []string{"images"},
		Short:   "Load container images into the real node without a registry, and list them",
	}
	cmd.AddCommand(imageLoad(g), imageList(g))
	return cmd
}

func imageLoad(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "load FILE|-",
		Short: "Load a `docker save` or OCI image archive (a file, or - for stdin) into the real node",
		Long: `Load a docker save or OCI image archive into the real node's containerd, so that pods
find it with imagePullPolicy IfNotPresent (or Never) and nothing is pulled:

  docker save example.local/web:v1 | gantry image load -
  gantry image load web.tar

Needs the images create permission (role:admin).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in io.Reader = cmd.InOrStdin()
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("%w: give a docker save or OCI archive, or - to read one from stdin", err)
				}
				defer f.Close()
				in = f
			}
			var loaded imageapi.Loaded
			if dir, ok := g.hostOnly(); ok {
				// No API to upload to: the node is on this machine.
				names, err := realnode.LoadImagesLocal(cmd.Context(), dir, in)
				if err != nil {
					return err
				}
				loaded = imageapi.Loaded{Node: "the real node of " + dir, Images: names}
			} else {
				api, err := g.apiClient()
				if err != nil {
					return err
				}
				if err := api.do("POST", imageapi.Prefix, in, &loaded); err != nil {
					return err
				}
			}
			for _, name := range loaded.Images {
				fmt.Fprintf(cmd.OutOrStdout(), "loaded %s into node %s\n", name, loaded.Node)
			}
			return nil
		},
	}
}

func imageList(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the images the real node holds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, err := g.apiClient()
			if err != nil {
				return err
			}
			var list imageapi.List
			if err := api.do("GET", imageapi.Prefix, nil, &list); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tDIGEST\tSIZE")
			for _, i := range list.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", i.Name, i.Digest, i.Size)
			}
			return tw.Flush()
		},
	}
}

// hostOnly returns the data directory when the command targets a local
// gantry that runs the embedded host without its platform (up --host-only).
func (g *globals) hostOnly() (string, bool) {
	if g.server != "" || (!g.dataDirGiven() && os.Getenv(EnvServer) != "") {
		return "", false
	}
	dir := g.absDataDir()
	st, err := runstate.Read(dir)
	if err != nil || !st.HostOnly {
		return "", false
	}
	return dir, true
}
