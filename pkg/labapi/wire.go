// Package labapi is the lab daemon's API: HTTP over a unix socket in the lab's
// state directory. The CLI applies, gets and deletes through it, and
// processes inside pods (the DNS server) list and watch through it with
// RemoteSource, which implements source.Source.
package labapi

import (
	"encoding/json"
	"fmt"

	"github.com/podnet/podnet/pkg/source"
)

// wireObject carries one typed object with its kind.
type wireObject struct {
	Kind   source.Kind     `json:"kind"`
	Object json.RawMessage `json:"object"`
}

func encodeObject(o source.Object) (wireObject, error) {
	k, err := source.KindOf(o)
	if err != nil {
		return wireObject{}, err
	}
	data, err := json.Marshal(o)
	return wireObject{Kind: k, Object: data}, err
}

func (w wireObject) decode() (source.Object, error) {
	o, err := source.New(w.Kind)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(w.Object, o); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", w.Kind, err)
	}
	return o, nil
}

// ApplyRequest is a batch of objects to create or apply.
type ApplyRequest struct {
	CreateOnly bool         `json:"createOnly"`
	Objects    []wireObject `json:"objects"`
}

// ApplyResult is what happened to one object.
type ApplyResult struct {
	Kind      source.Kind `json:"kind"`
	Namespace string      `json:"namespace,omitempty"`
	Name      string      `json:"name"`
	Action    string      `json:"action"`
}

// errorBody is an API error: a Kubernetes Status plus, for a batch, the index
// of the object it is about.
type errorBody struct {
	Status json.RawMessage `json:"status"`
	Index  int             `json:"index"`
}

// watchLine is one line of the watch stream. Type "SYNCED" marks the end of
// the initial snapshot.
type watchLine struct {
	Type   source.EventType `json:"type"`
	Object *wireObject      `json:"object,omitempty"`
}

// synced ends a watch's initial list.
const synced source.EventType = "SYNCED"

// LabStatus describes a running lab.
type LabStatus struct {
	Name      string   `json:"name"`
	PID       int      `json:"pid"`
	StateDir  string   `json:"stateDir"`
	Nodes     []string `json:"nodes"`
	Pods      int      `json:"pods"`
	PodsReady int      `json:"podsReady"`
	Services  int      `json:"services"`
	Started   string   `json:"started"`
}
