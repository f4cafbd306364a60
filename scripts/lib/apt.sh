# Sourced by the scripts that install what they need from Debian's packages when it is missing.
#
#   apt_install_missing PACKAGE...    installs the packages named (none: nothing), as root or through sudo
apt_install_missing() {
    [[ $# -gt 0 ]] || return 0
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    echo "$(basename "$0"): installing: $*" >&2
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
