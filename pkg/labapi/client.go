package labapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podnet/podnet/pkg/source"
)

// Client talks to a lab daemon over its socket.
type Client struct {
	Socket string
	http   *http.Client
}

// NewClient returns a client for the daemon listening on socket.
func NewClient(socket string) *Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	return &Client{Socket: socket, http: &http.Client{Transport: tr}}
}

// APIError is an error the daemon returned, with the batch index it is about.
type APIError struct {
	Err   *apierrors.StatusError
	Index int
}

func (e *APIError) Error() string { return e.Err.Error() }
func (e *APIError) Unwrap() error { return e.Err }

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://lab"+path, rd)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var eb errorBody
		var st metav1.Status
		if json.NewDecoder(resp.Body).Decode(&eb) != nil || json.Unmarshal(eb.Status, &st) != nil {
			return fmt.Errorf("lab API: %s %s: %s", method, path, resp.Status)
		}
		return &APIError{Err: &apierrors.StatusError{ErrStatus: st}, Index: eb.Index}
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func objectPath(k source.Kind, namespace, name string) string {
	if namespace == "" {
		namespace = "-"
	}
	return fmt.Sprintf("/v1/objects/%s/%s/%s", k, url.PathEscape(namespace), url.PathEscape(name))
}

// List returns every object of kind k.
func (c *Client) List(ctx context.Context, k source.Kind) ([]source.Object, error) {
	var out struct {
		Items []wireObject `json:"items"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/objects/"+string(k), nil, &out); err != nil {
		return nil, err
	}
	objs := make([]source.Object, 0, len(out.Items))
	for _, wo := range out.Items {
		o, err := wo.decode()
		if err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// Get returns one object.
func (c *Client) Get(ctx context.Context, k source.Kind, namespace, name string) (source.Object, error) {
	var wo wireObject
	if err := c.do(ctx, http.MethodGet, objectPath(k, namespace, name), nil, &wo); err != nil {
		return nil, err
	}
	return wo.decode()
}

// Delete removes one object (and what it owns).
func (c *Client) Delete(ctx context.Context, k source.Kind, namespace, name string) error {
	return c.do(ctx, http.MethodDelete, objectPath(k, namespace, name), nil, nil)
}

// Apply sends a batch; it is applied whole or not at all.
func (c *Client) Apply(ctx context.Context, objs []source.Object, createOnly bool) ([]ApplyResult, error) {
	req := ApplyRequest{CreateOnly: createOnly}
	for _, o := range objs {
		wo, err := encodeObject(o)
		if err != nil {
			return nil, err
		}
		req.Objects = append(req.Objects, wo)
	}
	var out struct {
		Results []ApplyResult `json:"results"`
	}
	if err := c.do(ctx, http.MethodPost, "/v1/apply", req, &out); err != nil {
		return nil, err
	}
	return out.Results, nil
}

// Status describes the lab.
func (c *Client) Status(ctx context.Context) (LabStatus, error) {
	var st LabStatus
	err := c.do(ctx, http.MethodGet, "/v1/status", nil, &st)
	return st, err
}

// Shutdown asks the daemon to exit; with teardown it removes the lab first.
func (c *Client) Shutdown(ctx context.Context, teardown bool) error {
	return c.do(ctx, http.MethodPost, fmt.Sprintf("/v1/shutdown?teardown=%t", teardown), nil, nil)
}
