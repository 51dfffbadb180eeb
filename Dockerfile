# Puente: a static binary on a distroless base, running as an unprivileged user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/puente ./cmd/puente

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/puente /puente
USER nonroot:nonroot
ENV PUENTE_ADDR=0.0.0.0:8080 \
    PUENTE_DATA_DIR=/data \
    PUENTE_LOG_FORMAT=json
# 8080: web and API. 7881/udp: live media (WebRTC), used from the live-sessions release on.
EXPOSE 8080 7881/udp 7882/tcp
VOLUME ["/data"]
ENTRYPOINT ["/puente"]
CMD ["serve"]
