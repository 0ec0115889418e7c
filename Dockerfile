# Both binaries in one small image: the webhook (sidekiq-probe-webhook) and the
# probe sidecar (sidekiq-probe). The chart picks the entrypoint per container.
#
# `make image` builds the same image without Docker, for linux/amd64 and
# linux/arm64, as an OCI archive (internal/ociimage); keep the two in
# agreement: TestDockerfileAgrees compares this file's final stage (USER,
# ENTRYPOINT, what it copies where) with that image.
#
# The base images are given as build arguments so that a mirror can be named at
# build time; the defaults resolve on the builder's configured registry.
ARG GO_IMAGE=golang:1.26-bookworm

FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
WORKDIR /src
# Modules first, so this layer is reused while only sources change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
      go build -trimpath -ldflags "-s -w -buildid= -X main.version=${VERSION}" \
        -o /out/sidekiq-probe-webhook ./cmd/sidekiq-probe-webhook && \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
      go build -trimpath -ldflags "-s -w -buildid= -X main.version=${VERSION}" \
        -o /out/sidekiq-probe ./cmd/sidekiq-probe

# Distroless-style final stage: nothing but the static binaries, CA roots (for
# rediss:// and the API server) and an unprivileged user. No shell, no package
# manager. UID 65532 is distroless' "nonroot".
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/sidekiq-probe-webhook /out/sidekiq-probe /
USER 65532:65532
ENTRYPOINT ["/sidekiq-probe-webhook"]
