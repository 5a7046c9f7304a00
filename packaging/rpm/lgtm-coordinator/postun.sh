# %postun of lgtm-coordinator. $1: 0 on removal, 1 on upgrade.
# %systemd_postun_with_restart, written out: on upgrade try-restart the coordinator. RPM has
# no purge: /etc/lgtm/coordinator.toml (%config(noreplace), kept as .rpmsave if changed), the
# database in /var/lib/lgtm-coordinator and the lgtm-coordinator user stay after removal.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -ge 1 ]; then
    systemctl try-restart lgtm-coordinator.service >/dev/null 2>&1 || :
fi
