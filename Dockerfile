# One image with both binaries: sluice-apiserver (the entrypoint) and
# sluice-controller (run it with `command: ["/sluice-controller"]`).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd cmd
COPY pkg pkg
# The version the binaries report (kubectl sluice version reads the
# server's): make image passes the checkout's git describe.
ARG VERSION=unknown
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/sluice-dev/sluice/pkg/version.stamped=${VERSION}" -o /out/ ./cmd/...

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sluice-apiserver /out/sluice-controller /
USER 65532:65532
ENTRYPOINT ["/sluice-apiserver"]
