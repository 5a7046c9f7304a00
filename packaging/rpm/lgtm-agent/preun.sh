# %preun of lgtm-agent. $1: 0 on removal, 1 on upgrade.
# %systemd_preun, written out: on removal stop and disable the agent, nothing else. The
# backends (lgtm-mimir, lgtm-loki, lgtm-tempo-*) are separate units that keep running, with
# their configs and data. On upgrade nothing is stopped.
if [ "$1" -eq 0 ]; then
    systemctl --no-reload disable --now lgtm-agent.service >/dev/null 2>&1 || :
fi
