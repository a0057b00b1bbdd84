package manifest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/podnet/podnet/pkg/source"
)

// stdinOrigin is how kubectl names standard input in its messages.
const stdinOrigin = "STDIN"

// fileExtensions are the files kubectl reads from a directory (a file named
// explicitly is read whatever its name).
var fileExtensions = []string{".json", ".yaml", ".yml"}

// ReadPaths reads manifests like kubectl -f: each path is a file, a directory
// (its .json, .yaml and .yml files in lexical order, and its subdirectories'
// only when recursive, like -R) or "-" for stdin. A missing path fails the
// whole call before anything is read, as kubectl does; otherwise every file is
// read and the objects that decoded are returned with all errors joined.
func ReadPaths(paths []string, recursive bool, stdin io.Reader) ([]source.Object, error) {
	var files []string
	var errs []error
	for _, p := range paths {
		if p == "-" {
			files = append(files, p)
			continue
		}
		_, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("the path %q does not exist", p))
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("the path %q cannot be accessed: %v", p, err))
			continue
		}
		found, err := expandPath(p, recursive)
		if err != nil {
			errs = append(errs, fmt.Errorf("error reading %q: %v", p, err))
		}
		files = append(files, found...)
	}
	if len(files) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("error reading %v: recognized file extensions are %v", paths, fileExtensions))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	// Files decode in parallel (a cluster's worth of manifests is mostly
	// YAML parsing), each with its own decoder; objects and errors keep
	// the order of the files.
	type result struct {
		objs []source.Object
		err  error
	}
	results := make([]result, len(files))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(len(files), runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := newDecoder()
			for i := range work {
				results[i].objs, results[i].err = d.decodeFile(files[i], stdin)
			}
		}()
	}
	for i := range files {
		work <- i
	}
	close(work)
	wg.Wait()
	var objs []source.Object
	for _, r := range results {
		objs = append(objs, r.objs...)
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return objs, errors.Join(errs...)
}

// expandPath lists the manifest files under root; filepath.WalkDir visits
// entries in lexical order, which is kubectl's order.
func expandPath(root string, recursive bool) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if path != root && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		if path != root && !hasManifestExtension(path) {
			return nil
		}
		files = append(files, path)
		return nil
	})
	return files, err
}

func hasManifestExtension(path string) bool {
	ext := filepath.Ext(path)
	for _, want := range fileExtensions {
		if ext == want {
			return true
		}
	}
	return false
}

func (d *decoder) decodeFile(path string, stdin io.Reader) ([]source.Object, error) {
	if path == "-" {
		if stdin == nil {
			return nil, errors.New("no standard input to read manifests from")
		}
		return d.decodeStream(stdin, stdinOrigin)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return d.decodeStream(f, path)
}
