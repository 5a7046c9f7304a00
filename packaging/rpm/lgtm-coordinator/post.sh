# %post of lgtm-coordinator. $1: 1 on installation, 2 on upgrade.
# The user comes first: systemd-sysusers with the packaged file (no package file is owned by
# it, so %post is early enough). Then %systemd_post, written out: on installation enable per
# the presets (80-lgtm-coordinator.preset: enabled). Not started, as Fedora packages do.
systemd-sysusers /usr/lib/sysusers.d/lgtm-coordinator.conf >/dev/null 2>&1 || :
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -eq 1 ]; then
    systemctl --no-reload preset lgtm-coordinator.service >/dev/null 2>&1 || :
fi
