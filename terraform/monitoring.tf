# Monitoring: log-based metrics of published events and of their detection latency, and alerts
# for on-call before a silent stall. Polls are counted from Cloud Run's request log of the
# function's service (one entry per poll, 5xx included when the function crashed or timed out);
# published events from the poller's own JSON log line per event (jsonPayload.eventId, .state,
# .operationType, and .detectionLatencySeconds when the operation has an end time).

locals {
  service_logs = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${google_cloudfunctions2_function.main.name}\"",
  ])
  request_log = "logName=\"projects/${var.project_id}/logs/run.googleapis.com%2Frequests\""
}

resource "google_logging_metric" "published_events" {
  project     = var.project_id
  name        = "${var.name}/published_events"
  description = "Events the poller published, by operation state and type."
  filter      = "${local.service_logs} AND jsonPayload.eventId:* AND severity=INFO"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Insights poller: published events"

    labels {
      key         = "state"
      value_type  = "STRING"
      description = "SUCCEEDED, FAILED, CANCELLED or EXPIRED."
    }
    labels {
      key         = "operation_type"
      value_type  = "STRING"
      description = "The long-running method, e.g. ExportInsightsData."
    }
  }
  label_extractors = {
    state          = "EXTRACT(jsonPayload.state)"
    operation_type = "EXTRACT(jsonPayload.operationType)"
  }

  depends_on = [google_project_service.main]
}

# How long after an operation ended its event was published (publish time minus the operation's
# endTime, as the poller logs it): a distribution, charted by percentile. A distribution
# log-based metric needs metric kind DELTA, value type DISTRIBUTION and a value extractor; an
# entry whose value cannot be extracted or read as a double is left out of it (Cloud Logging
# API, LogMetric.metric_descriptor and LogMetric.value_extractor). EXPIRED events carry no end
# time, hence no field: the filter asks for it, so they are not counted at all.
# Buckets: exponential, the i-th finite one [scale * growth^(i-1), scale * growth^i) (Cloud
# Monitoring API, Distribution.BucketOptions.Exponential): 0.1 s * 1.5^26 = 3788 s, so 0.1 s to
# just over an hour in 26 buckets each 50% wider than the last (a percentile is read to within
# one bucket); anything longer falls in the overflow bucket.
resource "google_logging_metric" "detection_latency" {
  project         = var.project_id
  name            = "${var.name}/detection_latency"
  description     = "Seconds from an Insights operation's end (its endTime) to the publish of its event, by operation state and type. EXPIRED events, which have no end time, are not counted."
  filter          = "${local.service_logs} AND jsonPayload.eventId:* AND jsonPayload.detectionLatencySeconds:* AND severity=INFO"
  value_extractor = "EXTRACT(jsonPayload.detectionLatencySeconds)"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "s"
    display_name = "Insights poller: detection latency"

    labels {
      key         = "state"
      value_type  = "STRING"
      description = "SUCCEEDED, FAILED or CANCELLED."
    }
    labels {
      key         = "operation_type"
      value_type  = "STRING"
      description = "The long-running method, e.g. ExportInsightsData."
    }
  }
  label_extractors = {
    state          = "EXTRACT(jsonPayload.state)"
    operation_type = "EXTRACT(jsonPayload.operationType)"
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 26
      growth_factor      = 1.5
      scale              = 0.1
    }
  }

  depends_on = [google_project_service.main]
}

resource "google_logging_metric" "successful_polls" {
  project     = var.project_id
  name        = "${var.name}/successful_polls"
  description = "Polls that answered 200: every finished operation found was published and recorded."
  filter      = "${local.service_logs} AND ${local.request_log} AND httpRequest.status=200"

  depends_on = [google_project_service.main]
}

resource "google_logging_metric" "failed_polls" {
  project     = var.project_id
  name        = "${var.name}/failed_polls"
  description = "Polls that answered 5xx (some completion held back for the next poll), crashed or timed out."
  filter      = "${local.service_logs} AND ${local.request_log} AND httpRequest.status>=500"

  depends_on = [google_project_service.main]
}

# Alert policies created in the same apply as the log-based metrics they read fail with 404
# "Cannot find metric(s) ... If a metric was created recently, it could take up to 10 minutes
# to become available" (hashicorp/terraform-provider-google#11102, open). So the policies wait
# that long after a metric is created (or replaced); the wait runs while the function builds.
resource "time_sleep" "metrics" {
  create_duration = "600s"

  triggers = {
    metrics = join(",", [
      google_logging_metric.published_events.id,
      google_logging_metric.detection_latency.id,
      google_logging_metric.successful_polls.id,
      google_logging_metric.failed_polls.id,
    ])
  }
}

resource "google_monitoring_alert_policy" "polls_failing" {
  project               = var.project_id
  display_name          = "${var.name}: polls failing repeatedly"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  user_labels           = var.labels

  conditions {
    display_name = "${var.alert_failed_polls_count} or more failed polls in ${var.alert_failed_polls_window_minutes} min"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.failed_polls.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_failed_polls_count - 1
      duration        = "0s"
      aggregations {
        alignment_period     = "${var.alert_failed_polls_window_minutes * 60}s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    content   = "The poller answered 5xx repeatedly: completions are held back and retried, but something keeps failing. Its log (severity WARNING, field code) names the stage (list, get, body, claim, publish) and the gRPC code."
    mime_type = "text/markdown"
  }

  depends_on = [time_sleep.metrics]
}

resource "google_monitoring_alert_policy" "no_successful_poll" {
  project               = var.project_id
  display_name          = "${var.name}: no successful poll"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  user_labels           = var.labels

  conditions {
    display_name = "No successful poll for ${var.alert_no_successful_poll_minutes} min"
    condition_absent {
      filter   = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.successful_polls.name}\" AND resource.type=\"cloud_run_revision\""
      duration = "${var.alert_no_successful_poll_minutes * 60}s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    content   = "No poll has succeeded for a while: the schedule may be paused, the function failing, or its invoker unauthorized. Subscribers are getting no events."
    mime_type = "text/markdown"
  }

  depends_on = [time_sleep.metrics]
}

resource "google_monitoring_alert_policy" "expired_operations" {
  project               = var.project_id
  display_name          = "${var.name}: operations expired"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  user_labels           = var.labels

  conditions {
    display_name = "EXPIRED events published"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.published_events.name}\" AND resource.type=\"cloud_run_revision\" AND metric.label.state=\"EXPIRED\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    content   = "An operation was given up on: the Insights API no longer knows it (NOT_FOUND) or it stayed pending past MAX_PENDING_AGE. Its outcome is unknown; check it in Insights."
    mime_type = "text/markdown"
  }

  depends_on = [time_sleep.metrics]
}
