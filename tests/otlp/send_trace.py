"""Sends one trace with the OpenTelemetry Python SDK's own OTLP exporter, as an instrumented
application would, and prints its trace id (32 hex digits).

Usage: send_trace.py grpc|http ENDPOINT SERVICE
  grpc: ENDPOINT is host:port (OTLP/gRPC, plaintext)
  http: ENDPOINT is http://host:port/v1/traces (OTLP/HTTP, protobuf)
Exits 1 when the exporter reports a failure.
"""

import sys

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult


class Recorder(SpanExporter):
    """Keeps finished spans, so the real exporter's result can be checked."""

    def __init__(self):
        self.spans = []

    def export(self, spans):
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def main():
    protocol, endpoint, service = sys.argv[1:4]
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=endpoint, insecure=True, timeout=10)
    elif protocol == "http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=endpoint, timeout=10)
    else:
        sys.exit(f"unknown protocol {protocol!r}: grpc or http")
    recorder = Recorder()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(recorder))
    tracer = provider.get_tracer("lgtm-tests")
    with tracer.start_as_current_span("checkout", attributes={"lgtm.protocol": protocol}) as root:
        with tracer.start_as_current_span("charge-card"):
            pass
        trace_id = format(root.get_span_context().trace_id, "032x")
    # Retried inside the exporter on transient errors; its verdict is final.
    result = exporter.export(recorder.spans)
    exporter.shutdown()
    if result != SpanExportResult.SUCCESS:
        sys.exit(f"OTLP {protocol} export to {endpoint} failed: {result}")
    print(trace_id)


if __name__ == "__main__":
    main()
