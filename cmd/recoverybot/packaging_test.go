package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnit checks packaging/recoverybot.service with
// systemd-analyze verify, pointed at a binary that exists: it must pass
// without a word (verify only warns, exit status 0, about a misspelt
// directive or a bad value; the misspelt copy shows the test sees it),
// and keep the directives the README promises.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is missing: scripts/test-deps.sh installs it (Debian package systemd)")
	}
	unit, err := os.ReadFile(filepath.Join("..", "..", "packaging", "recoverybot.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Type=notify\n", "NotifyAccess=main\n", "WatchdogSec=60s\n", "User=recoverybot\n", "Group=recoverybot\n",
		"StateDirectory=recoverybot\n", "ConfigurationDirectory=recoverybot\n",
		"ExecStart=/usr/local/bin/recoverybot --config /etc/recoverybot/recoverybot.toml serve\n",
		"ProtectSystem=strict\n", "ProtectHome=yes\n", "NoNewPrivileges=yes\n", "PrivateTmp=yes\n", "PrivateDevices=yes\n",
		"ProtectKernelTunables=yes\n", "ProtectKernelModules=yes\n", "ProtectKernelLogs=yes\n",
		"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n", "LockPersonality=yes\n", "MemoryDenyWriteExecute=yes\n",
		"SystemCallFilter=@system-service\n", "Restart=on-failure\n", "CapabilityBoundingSet=\n", "UMask=0077\n"} {
		if !strings.Contains(string(unit), "\n"+want) {
			t.Errorf("the unit lacks %q", strings.TrimSpace(want))
		}
	}
	bin := filepath.Join(t.TempDir(), "recoverybot")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	verify := func(body string) (string, error) {
		dir := t.TempDir()
		p := filepath.Join(dir, "recoverybot.service")
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(body, "/usr/local/bin/recoverybot", bin)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", p).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := verify(string(unit)); err != nil || out != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// A misspelt directive: verify exits 0 but says so, which the check
	// above counts as a failure.
	out, _ := verify(strings.Replace(string(unit), "WatchdogSec=", "WatchdogSecs=", 1))
	if !strings.Contains(out, "Unknown key 'WatchdogSecs'") {
		t.Errorf("systemd-analyze verify of a misspelt directive said %q, want the unknown key named", out)
	}
}
