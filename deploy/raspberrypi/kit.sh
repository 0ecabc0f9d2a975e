# shellcheck shell=bash
# What install.sh and install-ncs2.sh share (sourced, not run): their option errors and the
# check of --from.

kit_bad_option() {  # kit_bad_option SCRIPT OPTION: one line, exit 2
  echo "$1: unknown option '$2' (see --help)" >&2
  exit 2
}

kit_check_from() {  # kit_check_from SCRIPT FROM: a fer-edge checkout or a wheel, else one line and exit 1
  if [ ! -f "$2/setup.cfg" ] && [ "${2%.whl}" = "$2" ]; then
    echo "$1: $2 is neither a fer-edge checkout nor a wheel: pass --from (make wheel builds one)" >&2
    exit 1
  fi
}
