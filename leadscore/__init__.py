"""The shell: settings, the `leadscore` CLI and logging set-up."""
