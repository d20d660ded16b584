# syntax=docker/dockerfile:1
# Build a static binary (modernc.org/sqlite is pure Go: no cgo needed).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# .git stays out of the build context (.dockerignore), so `chapterhouse
# version` learns the revision from a build argument:
#   docker build --build-arg REVISION=$(git rev-parse HEAD) .
ARG REVISION=""
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w -X github.com/chapterhouse/chapterhouse/app/internal/cli.revision=${REVISION}" \
      -o /out/chapterhouse ./app && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/chapterhouse /usr/local/bin/chapterhouse
# The volume starts out owned by the unprivileged user the server runs as.
COPY --from=build --chown=65532:65532 /out/data /data
ENV CHAPTERHOUSE_DATA=/data \
    CHAPTERHOUSE_ADDR=:8080
VOLUME /data
EXPOSE 8080
USER nonroot:nonroot
# The health check asks the server of /data (its control socket) which
# address it serves on, so it follows an --addr in the command as well as
# CHAPTERHOUSE_ADDR.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/chapterhouse", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/chapterhouse"]
CMD ["serve"]
