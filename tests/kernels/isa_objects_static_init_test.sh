#!/bin/sh
# The ISA-specific kernel files (src/kernels/cpu/) are compiled for instructions the CPU
# may lack, and are only called after a run-time check. Code they run during static
# initialisation would run on every CPU before main (a SIGILL without AVX-512, say): each
# of their objects must have no static initialiser (GCC names them _GLOBAL__sub_I_*).
# $1: the kernels library's object files, ';'-separated ($<TARGET_OBJECTS:dsv4_kernels>).
set -eu
checked=0
failed=0
old_ifs=$IFS
IFS=';'
for obj in $1; do
  case "$obj" in
    */cpu/*) ;;
    *) continue ;;
  esac
  checked=$((checked + 1))
  if nm "$obj" | grep -q '_GLOBAL__sub_I_'; then
    echo "static initialiser in $obj" >&2
    failed=1
  fi
done
IFS=$old_ifs
if [ "$checked" -eq 0 ]; then
  echo "no src/kernels/cpu objects were given" >&2
  exit 1
fi
echo "$checked ISA-specific objects, none with a static initialiser"
exit "$failed"
