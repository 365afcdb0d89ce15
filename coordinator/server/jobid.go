package server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/superstep/superstep/internal/security"
)

// errJobID is the error of a submit whose suggested job name is refused.
var errJobID = errors.New("coordinator: job id refused")

// jobIdentity decides the ID of a submitted job. The coordinator makes the
// ID: a client may suggest a name (which must pass security.ValidName, as
// the ID names directories on every worker), and without one the
// coordinator generates a fresh one and writes it into the spec. A spec
// that names another job is refused here and again by the state.
func jobIdentity(suggested string, spec []byte) (string, []byte, error) {
	if suggested != "" {
		if err := security.ValidName("job", suggested); err != nil {
			return "", nil, fmt.Errorf("%w: %w", errJobID, err)
		}
		return suggested, spec, nil
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	id := time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
	var m map[string]json.RawMessage
	if err := json.Unmarshal(spec, &m); err != nil {
		return "", nil, fmt.Errorf("%w: plan spec: %w", errJobID, err)
	}
	if old, ok := m["job_id"]; ok && string(old) != `""` {
		return "", nil, fmt.Errorf("%w: the spec names job %s but the request names none", errJobID, old)
	}
	m["job_id"], _ = json.Marshal(id)
	out, err := json.Marshal(m)
	if err != nil {
		return "", nil, err
	}
	return id, out, nil
}
