package controller

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/dump"
)

// The API server's generateName: base (cut to leave room) plus five
// characters from the alphabet utilrand.String uses, which has no vowels so
// that no words appear.
const (
	nameAlphabet       = "bcdfghjklmnpqrstvwxz2456789"
	randomSuffixLength = 5
	maxNameLength      = 63
	maxGeneratedBase   = maxNameLength - randomSuffixLength
)

// nameGenerator draws name suffixes from the injected randomness. The mutex
// is there because rand.Rand is not safe for concurrent use.
type nameGenerator struct {
	mu sync.Mutex
	r  *rand.Rand
}

// generate returns base plus a random suffix, as metadata.generateName does.
func (g *nameGenerator) generate(base string) string {
	if len(base) > maxGeneratedBase {
		base = base[:maxGeneratedBase]
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	b := make([]byte, randomSuffixLength)
	for i := range b {
		b[i] = nameAlphabet[g.r.IntN(len(nameAlphabet))]
	}
	return base + string(b)
}

// podTemplateHash is upstream's controller.ComputeHash: FNV-1a over the
// spew dump of the template, salted with the collision count, encoded with
// utilrand.SafeEncodeString. Matching it keeps ReplicaSet and pod names what
// users see in a real cluster for the same (defaulted) manifest.
func podTemplateHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%v", dump.ForHash(*template))
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		h.Write(b)
	}
	return utilrand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// statefulSetRevisionHash is the hash of the ControllerRevision upstream's
// StatefulSet controller would store: FNV-1 (not 1a) over the revision's
// data, the patch {"spec":{"template":{...,"$patch":"replace"}}}, then the
// collision count in decimal.
func statefulSetRevisionHash(set *appsv1.StatefulSet) (string, error) {
	raw, err := json.Marshal(set.Spec.Template)
	if err != nil {
		return "", err
	}
	var template map[string]any
	if err := json.Unmarshal(raw, &template); err != nil {
		return "", err
	}
	template["$patch"] = "replace"
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"template": template}})
	if err != nil {
		return "", err
	}
	h := fnv.New32()
	h.Write(patch)
	if set.Status.CollisionCount != nil {
		h.Write([]byte(fmt.Sprint(*set.Status.CollisionCount)))
	}
	return utilrand.SafeEncodeString(fmt.Sprint(h.Sum32())), nil
}

// revisionName is ControllerRevisionName: the set's name (cut to 223
// characters) and the hash.
func revisionName(prefix, hash string) string {
	if len(prefix) > 223 {
		prefix = prefix[:223]
	}
	return prefix + "-" + hash
}
