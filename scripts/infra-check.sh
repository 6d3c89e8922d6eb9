#!/usr/bin/env bash
# Offline checks of infra/ and the Dockerfile, run by `make test`:
# terraform fmt, validate and test (mock providers) for every module and env root, then
# checkov over the Terraform and the Dockerfile with zero failed checks allowed.
set -euo pipefail
cd "$(dirname "$0")/.."

plugin_dir="${TF_PLUGIN_DIR:-/opt/tf-plugins}"
checkov="${CHECKOV:-.tools/checkov/bin/checkov}"
# A CLI config variable naming a missing file only produces warnings.
[ -z "${TF_CLI_CONFIG_FILE:-}" ] || [ -f "$TF_CLI_CONFIG_FILE" ] || unset TF_CLI_CONFIG_FILE
command -v terraform >/dev/null || { echo "terraform is not installed"; exit 1; }
[ -d "$plugin_dir" ] || { echo "no Terraform provider mirror at $plugin_dir (set TF_PLUGIN_DIR)"; exit 1; }

terraform fmt -check -recursive infra

for dir in infra/modules/*/ infra/envs/*/; do
  dir="${dir%/}"
  echo "== $dir"
  terraform -chdir="$dir" init -backend=false -input=false -plugin-dir="$plugin_dir" -no-color >/dev/null
  terraform -chdir="$dir" validate -no-color
  if compgen -G "$dir/tests/*.tftest.hcl" >/dev/null; then
    terraform -chdir="$dir" test -no-color
  fi
done

"$checkov" -d infra --framework terraform --skip-download --quiet --compact
"$checkov" -f Dockerfile --framework dockerfile --skip-download --quiet --compact
