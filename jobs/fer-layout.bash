# Sourced by the job scripts (needs $here, the script's own directory): where
# the fer binary and the shipped configs are. In a source tree they are
# build/fer and configs/ beside jobs/. Installed by `cmake --install`, the
# scripts live in LIBEXECDIR/fer/jobs and LIBEXECDIR/fer/layout, written at
# install time, gives the bin and configs directories relative to
# LIBEXECDIR/fer (or absolute).

# fer_layout bin|configs: that directory, or nothing when neither a source
# tree nor an installation says.
fer_layout() {
    local root=$here/.. rel=""
    case $1 in
    bin) [ ! -x "$root/build/fer" ] || { echo "$root/build"; return 0; } ;;
    configs) [ ! -d "$root/configs" ] || { echo "$root/configs"; return 0; } ;;
    esac
    [ -f "$root/layout" ] && rel=$(sed -n "s/^$1=//p" "$root/layout")
    [ -n "$rel" ] || return 0
    case $rel in /*) echo "$rel" ;; *) echo "$root/$rel" ;; esac
}
