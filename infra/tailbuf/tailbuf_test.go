package tailbuf_test

import (
	"fmt"
	"testing"

	"github.com/iam-userinfo/userinfo/infra/tailbuf"
)

func TestKeepsTheLastBytes(t *testing.T) {
	b := &tailbuf.Buffer{Max: 8}
	for i := 0; i < 5; i++ {
		fmt.Fprintf(b, "line%d\n", i)
	}
	if got, want := b.String(), "3\nline4\n"; got != want {
		t.Errorf("kept %q, want %q", got, want)
	}
}
