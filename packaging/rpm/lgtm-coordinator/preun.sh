# %preun of lgtm-coordinator. $1: 0 on removal, 1 on upgrade.
# %systemd_preun, written out: on removal stop and disable the coordinator.
if [ "$1" -eq 0 ]; then
    systemctl --no-reload disable --now lgtm-coordinator.service >/dev/null 2>&1 || :
fi
