#!/usr/bin/env bash
# The README's five-minute walkthrough, as one script: a network operator, a copper supplier and a battery
# maker; the supplier publishes a signed declaration, the buyer verifies it and uses it.
# Run it from the repository root with pcfx installed:  bash tests/walkthrough/walkthrough.sh [WORKDIR]
set -euo pipefail
examples="$(cd "$(dirname "$0")/../.." && pwd)/node/src/pcfx/node/data/examples"
work="${1:-$(mktemp -d)}"
cd "$work"
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null' EXIT

# 1. The network operator creates the trust registry and lists both companies in it.
pcfx keys new --dir operator
pcfx registry new registry.json --dir operator
pcfx init copper  --name "Demo Tongling Copper Co." --company-id urn:pcfx:uscc:91340700PCFXD00131
pcfx init battery --name "Demo Ningde Battery Co."  --company-id urn:pcfx:uscc:91350900PCFXD0014J
pcfx registry add registry.json --identity copper/keys --name "Demo Tongling Copper Co." \
  --company-id urn:pcfx:uscc:91340700PCFXD00131 --role supplier
pcfx registry add registry.json --identity battery/keys --name "Demo Ningde Battery Co." \
  --company-id urn:pcfx:uscc:91350900PCFXD0014J --role supplier
pcfx registry sign registry.json --dir operator
operator_key=$(pcfx did show --dir operator --document | python3 -c \
  'import json,sys; print(json.load(sys.stdin)["verificationMethod"][0]["publicKeyMultibase"])')
for home in copper battery; do
  cp registry.json "$home/"
  echo "registry_operator_key = \"$operator_key\"" >> "$home/pcfx.toml"
done

# 2. The supplier runs its node (embedded NATS), computes its cathode copper and publishes the declaration.
pcfx node run --home copper --http-port 0 --admin-port 0 > copper.log 2>&1 &
until [ -s copper/run/nats.url ]; do sleep 0.2; done
pcfx products add "$examples/cathode-copper.yaml" --home copper
pcfx declare cathode-cu-cath-1 --home copper

# 3. The buyer runs its node on the same bus and adds its product: the node follows the suppliers the
#    inventory names. It computes with the copper maker's declaration once that has arrived.
pcfx node run --home battery --nats "$(cat copper/run/nats.url)" --http-port 0 --admin-port 0 > battery.log 2>&1 &
until [ -s battery/run/nats.url ]; do sleep 0.2; done
pcfx products add "$examples/li-ion-battery.yaml" --home battery
for _ in $(seq 50); do pcfx inputs lfp-pack-280ah --home battery --json | grep -q '"supplier-declaration"' && break; sleep 0.2; done
pcfx inputs lfp-pack-280ah --home battery
