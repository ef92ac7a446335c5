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

func TestZeroMaxKeepsEverything(t *testing.T) {
	var b tailbuf.Buffer
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "%d,", i)
	}
	if got := b.String(); len(got) != 3890 || got[:4] != "0,1," {
		t.Errorf("kept %d bytes starting %q, want all 3890", len(got), got[:4])
	}
}
