#!/bin/sh
# First start: create the node home from the environment; later starts reuse it (keys are never regenerated).
set -eu
if [ ! -f "$PCFX_HOME/pcfx.toml" ]; then
  : "${PCFX_COMPANY_NAME:?set PCFX_COMPANY_NAME for the first start}"
  : "${PCFX_COMPANY_ID:?set PCFX_COMPANY_ID (urn:pcfx:uscc:<code>) for the first start}"
  pcfx init "$PCFX_HOME" --name "$PCFX_COMPANY_NAME" --company-id "$PCFX_COMPANY_ID" \
    ${PCFX_WEB_DOMAIN:+--web-domain "$PCFX_WEB_DOMAIN"}
fi
exec "$@"
