package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"gantry.dev/gantry/internal/appapi"
)

// logs is `gantry app logs APP`, as argocd app logs: the logs of the pods of
// the app's resource tree, through GET /api/v1/applications/{name}/logs.
func (o *appOptions) logs() *cobra.Command {
	var kind, group, name, namespace, container string
	var follow, previous, timestamps bool
	var tail, since int64
	cmd := &cobra.Command{
		Use:   "logs APP [--kind KIND --name NAME] [--container C] [-f] [--previous] [--tail N]",
		Short: "Print the logs of an application's pods (all of them, or those of one resource: a Deployment means its pods)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (kind == "") != (name == "") {
				return fmt.Errorf("--kind and --name go together (--kind Deployment --name web; --kind Pod --name web-5d9c-x for one pod)")
			}
			q := url.Values{}
			switch {
			case kind == "Pod" && group == "":
				q.Set("podName", name)
			case kind != "":
				q.Set("kind", kind)
				q.Set("group", group)
				q.Set("resourceName", name)
			}
			for k, v := range map[string]string{"namespace": namespace, "container": container} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if follow {
				q.Set("follow", "true")
			}
			if previous {
				q.Set("previous", "true")
			}
			if tail >= 0 {
				q.Set("tailLines", strconv.FormatInt(tail, 10))
			}
			if since > 0 {
				q.Set("sinceSeconds", strconv.FormatInt(since, 10))
			}
			c, err := o.apiClient()
			if err != nil {
				return err
			}
			body, err := c.stream(o.path(args[0], "logs", q))
			if err != nil {
				return err
			}
			defer body.Close()
			return printLogs(cmd.OutOrStdout(), body, timestamps, q.Get("podName") == "")
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "", "kind of the resource whose pods' logs to print (Deployment, StatefulSet, Pod, ...)")
	cmd.Flags().StringVar(&group, "group", "", "API group of the resource (apps for a Deployment; the CLI guesses it for well-known kinds)")
	cmd.Flags().StringVar(&name, "name", "", "name of the resource")
	cmd.Flags().StringVar(&namespace, "namespace", "", "namespace of the resource")
	cmd.Flags().StringVarP(&container, "container", "c", "", "container (default: each pod's default container)")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines")
	cmd.Flags().BoolVar(&previous, "previous", false, "the previous, terminated instance of the container")
	cmd.Flags().BoolVar(&timestamps, "timestamps", false, "print each line's timestamp")
	cmd.Flags().Int64Var(&tail, "tail", -1, "only the last N lines of each pod")
	cmd.Flags().Int64Var(&since, "since-seconds", 0, "only lines newer than this many seconds")
	cmd.PreRunE = func(*cobra.Command, []string) error {
		if group == "" {
			group = wellKnownGroups[kind]
		}
		return nil
	}
	return cmd
}

// wellKnownGroups spares the user --group for the usual workload kinds.
var wellKnownGroups = map[string]string{
	"Deployment": "apps", "StatefulSet": "apps", "DaemonSet": "apps", "ReplicaSet": "apps",
	"Job": "batch", "CronJob": "batch",
}

// printLogs prints the stream's entries as they come; prefix starts each
// line with its pod's name, as kubectl logs --prefix does (when the request
// may cover several pods).
func printLogs(w io.Writer, body io.Reader, timestamps, prefix bool) error {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64*1024), 2*1024*1024)
	for sc.Scan() {
		var e struct{ Result appapi.LogEntry }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("a log line gantry sent is not JSON: %w", err)
		}
		l := e.Result
		if l.Last {
			return nil
		}
		line := l.Content
		if timestamps {
			line = l.TimeStampStr + " " + line
		}
		if prefix {
			line = "[pod/" + l.PodName + "] " + line
		}
		fmt.Fprintln(w, line)
	}
	return sc.Err()
}

// stream opens a streaming answer (no overall timeout: follow runs until
// interrupted), refreshing a login's token as do does.
func (c *apiClient) stream(path string) (io.ReadCloser, error) {
	if c.session && !c.expires.IsZero() && time.Until(c.expires) < 30*time.Second {
		_ = c.refreshSession()
	}
	body, err := c.streamOnce(path)
	if c.session && httpStatus(err) == http.StatusUnauthorized {
		if rerr := c.refreshSession(); rerr != nil {
			return nil, fmt.Errorf("%w (and refreshing the session failed: %v; log in again: %s)", err, rerr, c.loginHint())
		}
		return c.streamOnce(path)
	}
	return body, err
}

func (c *apiClient) streamOnce(path string) (io.ReadCloser, error) {
	req, err := http.NewRequest("GET", c.server+path, nil)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	client := *c.http
	client.Timeout = 0
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reaching gantry at %s: %w", c.server, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var e struct{ Message string }
		msg := fmt.Sprintf("GET %s: %s", path, resp.Status)
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		return nil, &apiError{code: resp.StatusCode, msg: msg}
	}
	return resp.Body, nil
}
