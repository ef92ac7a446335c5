package lambdaproxy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	jsonv1 "github.com/go-json-experiment/json/v1"
)

// FuzzRestEventDecode checks serve's one-pass decoder against
// encoding/json: a payload it accepts, encoding/json accepts and decodes
// alike (one it rejects takes encoding/json's path). Its seeds are the
// sample events and FuzzEvent's corpus.
func FuzzRestEventDecode(f *testing.F) {
	events, _ := filepath.Glob("../../events/*.json")
	corpus, _ := filepath.Glob("testdata/fuzz/FuzzEvent/*")
	for _, name := range events {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, name := range corpus {
		if b, ok := readCorpusBytes(name); ok {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var fast, std restEvent
		if jsonv1.Unmarshal(payload, &fast) != nil {
			return
		}
		if err := json.Unmarshal(payload, &std); err != nil {
			t.Fatalf("encoding/json rejects what the fast decoder accepts: %v", err)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Fatalf("decoded events differ:\nfast %+v\nstd  %+v", fast, std)
		}
	})
}

// readCorpusBytes reads the one []byte of a go test fuzz v1 corpus file.
func readCorpusBytes(name string) ([]byte, bool) {
	raw, err := os.ReadFile(name)
	if err != nil {
		return nil, false
	}
	_, line, ok := strings.Cut(strings.TrimSpace(string(raw)), "\n")
	if !ok || !strings.HasPrefix(line, "[]byte(") || !strings.HasSuffix(line, ")") {
		return nil, false
	}
	s, err := strconv.Unquote(line[len("[]byte(") : len(line)-1])
	return []byte(s), err == nil
}
