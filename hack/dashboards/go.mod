// This module generates Sweep's Grafana dashboards (config/grafana/) with the
// Grafana Foundation SDK and tests them against the SDK's schema. It is a
// module of its own so that the SDK stays out of the main module and the
// sweep binary. See `make dashboards`; `make test` vets and tests it.
module github.com/masstesting/sweep/hack/dashboards

go 1.26.0

require github.com/grafana/grafana-foundation-sdk/go v0.0.22
