package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/podnet/podnet/pkg/labapi"
	"github.com/podnet/podnet/pkg/manifest"
	"github.com/podnet/podnet/pkg/printers"
	"github.com/podnet/podnet/pkg/source"
)

// fileFlags are kubectl's -f and -R.
type fileFlags struct {
	files     []string
	recursive bool
}

func (f *fileFlags) add(cmd *cobra.Command, what string) {
	cmd.Flags().StringSliceVarP(&f.files, "filename", "f", nil, "files, directories or - (stdin) "+what)
	cmd.Flags().BoolVarP(&f.recursive, "recursive", "R", false, "process directories recursively")
}

// objectsFromFiles reads the manifests and puts namespaced objects without a
// namespace into the request's namespace, refusing a conflicting one as
// kubectl does.
func (e *env) objectsFromFiles(f fileFlags) ([]source.Object, []string, error) {
	var objs []source.Object
	var origins []string
	for _, path := range f.files {
		got, err := manifest.ReadPaths([]string{path}, f.recursive, e.in)
		if err != nil {
			return nil, nil, err
		}
		for range got {
			origins = append(origins, path)
		}
		objs = append(objs, got...)
	}
	for _, o := range objs {
		k, _ := source.KindOf(o)
		if !source.Namespaced(k) {
			o.SetNamespace("")
			continue
		}
		switch {
		case o.GetNamespace() == "":
			o.SetNamespace(e.ns())
		case e.namespace != "" && o.GetNamespace() != e.namespace:
			return nil, nil, fmt.Errorf("the namespace from the provided object %q does not match the namespace %q. You must pass '--namespace=%s' to perform this operation.",
				o.GetNamespace(), e.namespace, o.GetNamespace())
		}
	}
	return objs, origins, nil
}

func (e *env) applyObjects(cmd *cobra.Command, objs []source.Object, origins []string, createOnly bool) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	results, err := c.Apply(cmd.Context(), objs, createOnly)
	if err != nil {
		var ae *labapi.APIError
		if errors.As(err, &ae) && ae.Index < len(origins) && origins[ae.Index] != "" {
			verb := "creating"
			if !createOnly {
				verb = "applying"
			}
			if ae.Err.ErrStatus.Reason != "Invalid" {
				return &fileError{verb: verb, file: origins[ae.Index], err: ae.Err}
			}
			return ae.Err
		}
		return err
	}
	for _, r := range results {
		fmt.Fprintf(e.out, "%s/%s %s\n", printers.KindPrefix(r.Kind), r.Name, r.Action)
	}
	return nil
}

func newApply(e *env) *cobra.Command {
	var f fileFlags
	cmd := &cobra.Command{
		Use:   "apply -f FILENAME",
		Short: "Create or update objects from manifests; all or nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(f.files) == 0 {
				return errors.New("must specify one of -f and -k")
			}
			objs, origins, err := e.objectsFromFiles(f)
			if err != nil {
				return err
			}
			return e.applyObjects(cmd, objs, origins, false)
		},
	}
	f.add(cmd, "to apply")
	return cmd
}

func newDelete(e *env) *cobra.Command {
	var f fileFlags
	var all bool
	var selector string
	cmd := &cobra.Command{
		Use:   "delete ([-f FILENAME] | TYPE [NAME...] | TYPE/NAME)",
		Short: "Delete objects by file, by name, by label or all of a kind",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			type target struct {
				kind      source.Kind
				namespace string
				name      string
			}
			var targets []target
			if len(f.files) > 0 {
				objs, _, err := e.objectsFromFiles(f)
				if err != nil {
					return err
				}
				for _, o := range objs {
					k, _ := source.KindOf(o)
					targets = append(targets, target{k, o.GetNamespace(), o.GetName()})
				}
			} else {
				refs, err := e.resolveRefs(cmd, c, args, selector, all)
				if err != nil {
					return err
				}
				for _, r := range refs {
					targets = append(targets, target{r.kind, r.namespace, r.name})
				}
			}
			var firstErr error
			for _, t := range targets {
				if err := c.Delete(cmd.Context(), t.kind, t.namespace, t.name); err != nil {
					fmt.Fprintln(e.errw, formatError(err))
					firstErr = exitError{1}
					continue
				}
				fmt.Fprintf(e.out, "%s %q deleted\n", printers.KindPrefix(t.kind), t.name)
			}
			return firstErr
		},
	}
	f.add(cmd, "naming the objects to delete")
	cmd.Flags().BoolVar(&all, "all", false, "delete all objects of the kind in the namespace")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "label selector")
	// kubectl's flags for how long to wait; the lab deletes at once (pods
	// still get their grace period from the node agent), so these are
	// accepted for scripts written for kubectl and change nothing.
	cmd.Flags().Bool("wait", true, "accepted for kubectl compatibility (deletion returns when the object is gone)")
	cmd.Flags().Bool("force", false, "accepted for kubectl compatibility")
	cmd.Flags().Int("grace-period", -1, "accepted for kubectl compatibility")
	return cmd
}
