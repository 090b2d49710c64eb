# The C sources and headers are formatted as the repository's .clang-format
# says (clang-format 14, Debian 12's: other versions format some constructs
# differently, so they skip rather than fail). Lists each file that differs.
source "$(dirname "$0")/lib.bash"
command -v clang-format > /dev/null || { echo "skipped: no clang-format (tools/install-deps installs it)"; exit 77; }
version=$(clang-format --version | grep -oE '[0-9]+\.[0-9]+' | head -1)
[ "${version%%.*}" = 14 ] || { echo "skipped: clang-format $version formats differently from 14"; exit 77; }
cd "$src"
# In a checkout: the tracked files and the new ones git does not ignore.
if [ -d .git ] && git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.c' '*.h' |
    while read -r f; do [ ! -f "$f" ] || echo "$f"; done)
else
  mapfile -t files < <(find src include tests tools -name '*.c' -o -name '*.h' | sort)
fi
unformatted=()
for f in "${files[@]}"; do
  clang-format --dry-run -Werror "$f" > /dev/null 2>&1 || unformatted+=("$f")
done
echo "clang-format $version checked ${#files[@]} files; ${#unformatted[@]} differ: ${unformatted[*]:-(none)}"
check "every C file and header is clang-formatted (fix: clang-format -i FILE)" [ ${#unformatted[@]} -eq 0 ]
check "there were files to check" [ ${#files[@]} -gt 100 ]
finish
