package labapi

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podnet/podnet/pkg/apiserver"
	"github.com/podnet/podnet/pkg/source"
)

// Backend is what the API serves.
type Backend struct {
	Source   source.Source
	API      *apiserver.Server
	Status   func() LabStatus
	Shutdown func(teardown bool) // called after the response is written
}

// Handler returns the API's HTTP handler.
func Handler(b Backend) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/objects/{kind}", func(w http.ResponseWriter, r *http.Request) {
		var items []wireObject
		for _, o := range b.Source.List(source.Kind(r.PathValue("kind"))) {
			wo, err := encodeObject(o)
			if err != nil {
				writeError(w, err, 0)
				return
			}
			items = append(items, wo)
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": items})
	})
	mux.HandleFunc("GET /v1/objects/{kind}/{ns}/{name}", func(w http.ResponseWriter, r *http.Request) {
		k := source.Kind(r.PathValue("kind"))
		o, ok := b.Source.Get(k, nsParam(r), r.PathValue("name"))
		if !ok {
			writeError(w, apierrors.NewNotFound(source.Resource(k), r.PathValue("name")), 0)
			return
		}
		wo, _ := encodeObject(o)
		writeJSON(w, http.StatusOK, wo)
	})
	mux.HandleFunc("DELETE /v1/objects/{kind}/{ns}/{name}", func(w http.ResponseWriter, r *http.Request) {
		if err := b.API.Delete(source.Kind(r.PathValue("kind")), nsParam(r), r.PathValue("name")); err != nil {
			writeError(w, err, 0)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{})
	})
	mux.HandleFunc("POST /v1/apply", func(w http.ResponseWriter, r *http.Request) {
		var req ApplyRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeError(w, apierrors.NewBadRequest(err.Error()), 0)
			return
		}
		objs := make([]source.Object, len(req.Objects))
		for i, wo := range req.Objects {
			o, err := wo.decode()
			if err != nil {
				writeError(w, apierrors.NewBadRequest(err.Error()), i)
				return
			}
			objs[i] = o
		}
		results, err := b.API.Apply(objs, req.CreateOnly)
		if err != nil {
			idx := 0
			var oe *apiserver.ObjectError
			if errors.As(err, &oe) {
				idx, err = oe.Index, oe.Err
			}
			writeError(w, err, idx)
			return
		}
		out := make([]ApplyResult, len(results))
		for i, res := range results {
			out[i] = ApplyResult{Kind: res.Kind, Namespace: res.Object.GetNamespace(), Name: res.Object.GetName(), Action: string(res.Action)}
		}
		writeJSON(w, http.StatusOK, map[string]any{"results": out})
	})
	mux.HandleFunc("GET /v1/watch", func(w http.ResponseWriter, r *http.Request) { serveWatch(w, r, b.Source) })
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, b.Status()) })
	mux.HandleFunc("POST /v1/shutdown", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{})
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		go b.Shutdown(r.URL.Query().Get("teardown") == "true")
	})
	return mux
}

func nsParam(r *http.Request) string {
	if ns := r.PathValue("ns"); ns != "-" {
		return ns
	}
	return ""
}

// serveWatch streams the current objects as ADDED, a SYNCED line, then every
// change, one JSON object per line. The subscription starts before the list,
// so nothing falls between them; a client orders the overlap by
// resourceVersion.
func serveWatch(w http.ResponseWriter, r *http.Request, src source.Source) {
	events := make(chan source.Event, 1024)
	overflow := make(chan struct{})
	cancel := src.Subscribe(func(ev source.Event) {
		select {
		case events <- ev:
		default:
			// A client this far behind must relist: end the stream.
			select {
			case <-overflow:
			default:
				close(overflow)
			}
		}
	})
	defer cancel()
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	for _, k := range source.Kinds {
		for _, o := range src.List(k) {
			wo, err := encodeObject(o)
			if err != nil {
				continue
			}
			if enc.Encode(watchLine{Type: source.Added, Object: &wo}) != nil {
				return
			}
		}
	}
	if enc.Encode(watchLine{Type: synced}) != nil {
		return
	}
	if flusher != nil {
		flusher.Flush()
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-overflow:
			return
		case ev := <-events:
			wo, err := encodeObject(ev.Object)
			if err != nil {
				continue
			}
			if enc.Encode(watchLine{Type: ev.Type, Object: &wo}) != nil {
				return
			}
			if len(events) == 0 && flusher != nil {
				flusher.Flush()
			}
		}
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error, index int) {
	var status metav1.Status
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		status = se.Status()
	} else {
		status = apierrors.NewInternalError(err).Status()
		status.Message = err.Error()
	}
	data, _ := json.Marshal(status)
	code := int(status.Code)
	if code == 0 {
		code = http.StatusInternalServerError
	}
	writeJSON(w, code, errorBody{Status: data, Index: index})
}

// Listen opens the API socket at path, replacing a stale one.
func Listen(path string) (net.Listener, error) {
	if conn, err := net.Dial("unix", path); err == nil {
		conn.Close()
		return nil, errors.New("another daemon is serving " + path)
	}
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	os.Chmod(path, 0o600)
	return l, nil
}

// IsSocketError reports whether err means nothing answered on the socket.
func IsSocketError(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connect: no such file") ||
		strings.Contains(err.Error(), "connect: connection refused"))
}
