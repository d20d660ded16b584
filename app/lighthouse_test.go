package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestLighthouseAccessibilityOnPhones runs Lighthouse's accessibility
// audits, at phone size, on every kind of public page of the demo chapter
// served by the real program: each must score 100. It needs the lighthouse
// command (npm) and Chromium; in CI (.ci/run installs both) it never skips.
func TestLighthouseAccessibilityOnPhones(t *testing.T) {
	lh, err := exec.LookPath("lighthouse")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI: no lighthouse on PATH; .ci/run installs it with npm")
		}
		t.Skip("no lighthouse on PATH (npm install -g lighthouse): the accessibility check needs it")
	}
	chromium := chromiumPath(t)
	s := startLive(t, "--demo")
	for _, path := range demoPublicPages(t, s.Client) {
		url := s.SiteURL("demo", path)
		t.Run(path, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, lh, url,
				"--only-categories=accessibility", "--output=json", "--output-path=stdout", "--quiet",
				"--form-factor=mobile",
				"--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage "+
					"--user-data-dir="+t.TempDir()+" --host-resolver-rules=\"MAP *."+s.base+" 127.0.0.1\"")
			cmd.Env = append(os.Environ(), "CHROME_PATH="+chromium)
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			if err := cmd.Run(); err != nil {
				t.Fatalf("lighthouse %s: %v\n%s", url, err, errOut.String())
			}
			score, failing, err := accessibility(out.Bytes())
			if err != nil {
				t.Fatalf("lighthouse %s: %v\n%.2000s", url, err, out.String())
			}
			if score != 1 {
				t.Errorf("%s: accessibility %.0f, want 100; failing audits:\n%s", path, score*100, strings.Join(failing, "\n"))
			}
		})
	}
}

// accessibility reads a Lighthouse JSON report: the accessibility score
// (0 to 1) and a line for each of its audits that did not pass.
func accessibility(report []byte) (float64, []string, error) {
	var r struct {
		RuntimeError *struct{ Code, Message string } `json:"runtimeError"`
		Categories   struct {
			Accessibility *struct {
				Score     *float64 `json:"score"`
				AuditRefs []struct {
					ID     string  `json:"id"`
					Weight float64 `json:"weight"`
				} `json:"auditRefs"`
			} `json:"accessibility"`
		} `json:"categories"`
		Audits map[string]struct {
			Title   string   `json:"title"`
			Score   *float64 `json:"score"`
			Details struct {
				Items []struct {
					Node struct {
						Snippet string `json:"snippet"`
						Explain string `json:"explanation"`
					} `json:"node"`
				} `json:"items"`
			} `json:"details"`
		} `json:"audits"`
	}
	if err := json.Unmarshal(report, &r); err != nil {
		return 0, nil, fmt.Errorf("not a Lighthouse JSON report: %w", err)
	}
	if r.RuntimeError != nil && r.RuntimeError.Code != "" && r.RuntimeError.Code != "NO_ERROR" {
		return 0, nil, fmt.Errorf("lighthouse: %s: %s", r.RuntimeError.Code, r.RuntimeError.Message)
	}
	a := r.Categories.Accessibility
	if a == nil || a.Score == nil {
		return 0, nil, fmt.Errorf("the report has no accessibility score")
	}
	var failing []string
	for _, ref := range a.AuditRefs {
		au := r.Audits[ref.ID]
		if au.Score == nil || *au.Score == 1 || ref.Weight == 0 {
			continue
		}
		line := fmt.Sprintf("  %s (%s)", ref.ID, au.Title)
		for i, it := range au.Details.Items {
			if i == 3 {
				line += fmt.Sprintf("\n    … and %d more", len(au.Details.Items)-3)
				break
			}
			line += "\n    " + it.Node.Snippet
			if it.Node.Explain != "" {
				line += ": " + strings.ReplaceAll(it.Node.Explain, "\n", " ")
			}
		}
		failing = append(failing, line)
	}
	sort.Strings(failing)
	return *a.Score, failing, nil
}
