package samtemplate

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
)

//go:embed translate.py
var translateScript string

// Job is one translation: a SAM template's text and the parameter values
// of one deploy (only those given: the translator fills in defaults).
type Job struct {
	Template   []byte
	Parameters map[string]string
}

// Result is the CloudFormation a Job gives, or why the translator refused it.
type Result struct {
	Template *Template
	Err      error
}

// Translate runs the SAM translator (the Python package aws-sam-translator,
// which `sam deploy` has CloudFormation run, and which comes with cfn-lint)
// on every job, in one python3 process, as for a deploy to region. It
// returns one Result per job, in order; its error is for a translator that
// cannot be run at all.
func Translate(ctx context.Context, region string, jobs []Job) ([]Result, error) {
	type job struct {
		Template   string            `json:"template"`
		Parameters map[string]string `json:"parameters"`
	}
	in := make([]job, len(jobs))
	for i, j := range jobs {
		in[i] = job{Template: string(j.Template), Parameters: j.Parameters}
		if in[i].Parameters == nil {
			in[i].Parameters = map[string]string{}
		}
	}
	stdin, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "python3", "-c", translateScript)
	cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION="+region, "AWS_REGION="+region)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var missing *exec.Error
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("samtemplate: python3 not found: install Python 3 with cfn-lint (pip install cfn-lint), which brings aws-sam-translator")
		}
		return nil, fmt.Errorf("samtemplate: the SAM translator failed (pip install cfn-lint brings it): %v\n%s", err, stderr.Bytes())
	}
	var out []struct {
		Template json.RawMessage `json:"template"`
		Error    string          `json:"error"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || len(out) != len(jobs) {
		return nil, fmt.Errorf("samtemplate: the translator's answer is not %d results (%v)", len(jobs), err)
	}
	results := make([]Result, len(out))
	for i, o := range out {
		if o.Error != "" {
			results[i].Err = fmt.Errorf("samtemplate: translate: %s", o.Error)
			continue
		}
		var root map[string]any
		if err := json.Unmarshal(o.Template, &root); err != nil {
			results[i].Err = fmt.Errorf("samtemplate: the translator's template: %w", err)
			continue
		}
		results[i].Template = &Template{root: root}
	}
	return results, nil
}
