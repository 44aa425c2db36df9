#!/bin/sh
# with-ca.sh CMD...: run a download step of the image build, trusting extra CA certificates
# when the build passes them as the BuildKit secret `cacerts` (a TLS-inspecting egress proxy,
# a private mirror). The certificates are mounted only for that step, never stored in a layer.
set -eu
if [ -s /run/secrets/cacerts ]; then
  export SSL_CERT_FILE=/run/secrets/cacerts PIP_CERT=/run/secrets/cacerts \
    REQUESTS_CA_BUNDLE=/run/secrets/cacerts CURL_CA_BUNDLE=/run/secrets/cacerts
fi
exec "$@"
