# Monitoring: log-based metrics of published events, their detection latency and the backlog,
# alerts for on-call before a silent stall, and a dashboard. Polls are counted from Cloud Run's
# request log of the function's service (one entry per poll, 5xx included when the function
# crashed or timed out); published events from the poller's own JSON log line per event
# (jsonPayload.eventId, .state, .operationType, and .detectionLatencySeconds when the operation
# has an end time); the backlog from its JSON summary line per poll (jsonPayload.summary:
# .pending, .notReached, .listingComplete, .oldestPendingAgeSeconds).
#
# A log-based metric counts entries (INT64) or extracts one number per entry into a
# distribution (metric kind DELTA, value type DISTRIBUTION, a value_extractor; an entry whose
# value cannot be extracted or read as a double is left out: Cloud Logging API,
# LogMetric.metric_descriptor and LogMetric.value_extractor). There is no gauge of a logged
# value: the backlog metrics are distributions of one value per poll, read as gauges with
# ALIGN_MEAN, which is exact (a distribution keeps its count and mean, whatever its buckets) and
# valid for DELTA distributions (Cloud Monitoring API, Aggregation.Aligner.ALIGN_MEAN: GAUGE and
# DELTA metrics, numeric and distribution values, result DOUBLE). The buckets matter only to
# percentiles charted by hand.

locals {
  service_logs = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${google_cloudfunctions2_function.main.name}\"",
  ])
  request_log = "logName=\"projects/${var.project_id}/logs/run.googleapis.com%2Frequests\""

  # The look-back of conditions and charts that read one value per poll: two schedule periods
  # (at least 10 minutes), so that it always holds a poll. A schedule of another form than
  # "*/N * * * *" is taken as hourly.
  poll_alignment_seconds = max(600, 2 * 60 * coalesce(local.schedule_minute_step, 60))

  # The filter of each log-based metric's time series (they are written for the Cloud Run
  # revision that logged the entry), for the dashboard.
  metric_filters = {
    for key, metric in {
      published_events       = google_logging_metric.published_events
      detection_latency      = google_logging_metric.detection_latency
      successful_polls       = google_logging_metric.successful_polls
      failed_polls           = google_logging_metric.failed_polls
      pending_operations     = google_logging_metric.pending_operations
      not_reached_operations = google_logging_metric.not_reached_operations
      oldest_pending_age     = google_logging_metric.oldest_pending_age
      incomplete_listings    = google_logging_metric.incomplete_listings
    } : key => "metric.type=\"logging.googleapis.com/user/${metric.name}\" AND resource.type=\"cloud_run_revision\""
  }
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

# The backlog, from the poll's summary line: how many operations are still pending after it,
# how many it did not reach (checked first by the next poll), how long the oldest pending one
# has been pending (null, hence no value, when none is), and polls whose listing was cut short.
# The numeric comparison selects summary lines (and leaves a null age out).
resource "google_logging_metric" "pending_operations" {
  project         = var.project_id
  name            = "${var.name}/pending_operations"
  description     = "Operations still pending after each poll (its summary.pending): one value per poll."
  filter          = "${local.service_logs} AND jsonPayload.summary.pending>=0"
  value_extractor = "EXTRACT(jsonPayload.summary.pending)"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "1"
    display_name = "Insights poller: pending operations"
  }

  # 1, 2, 4, ... 2^20 (about a million): for a percentile to within a factor of 2.
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 20
      growth_factor      = 2
      scale              = 1
    }
  }

  depends_on = [google_project_service.main]
}

resource "google_logging_metric" "not_reached_operations" {
  project         = var.project_id
  name            = "${var.name}/not_reached_operations"
  description     = "Operations each poll did not reach within its budget (its summary.notReached): checked first by the next poll."
  filter          = "${local.service_logs} AND jsonPayload.summary.notReached>=0"
  value_extractor = "EXTRACT(jsonPayload.summary.notReached)"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "1"
    display_name = "Insights poller: operations not reached"
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 20
      growth_factor      = 2
      scale              = 1
    }
  }

  depends_on = [google_project_service.main]
}

resource "google_logging_metric" "oldest_pending_age" {
  project         = var.project_id
  name            = "${var.name}/oldest_pending_age"
  description     = "Seconds the oldest still-pending operation has been pending, after each poll (its summary.oldestPendingAgeSeconds); no value when none is pending."
  filter          = "${local.service_logs} AND jsonPayload.summary.oldestPendingAgeSeconds>=0"
  value_extractor = "EXTRACT(jsonPayload.summary.oldestPendingAgeSeconds)"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "s"
    display_name = "Insights poller: oldest pending age"
  }

  # 1 s * 1.5^44 = 5.6e7 s: from a second to past a year (MAX_PENDING_AGE's maximum).
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 44
      growth_factor      = 1.5
      scale              = 1
    }
  }

  depends_on = [google_project_service.main]
}

resource "google_logging_metric" "incomplete_listings" {
  project     = var.project_id
  name        = "${var.name}/incomplete_listings"
  description = "Polls whose listing of operations was cut short (summary.listingComplete false): the rest is listed by the next poll."
  filter      = "${local.service_logs} AND jsonPayload.summary.listingComplete=false"

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
      google_logging_metric.pending_operations.id,
      google_logging_metric.not_reached_operations.id,
      google_logging_metric.oldest_pending_age.id,
      google_logging_metric.incomplete_listings.id,
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

# The backlog growing: operations staying pending (Insights not finishing them, or the poller not
# reaching them). Two conditions, either fires: the oldest pending operation older than
# alert_oldest_pending_age_minutes (the latest polls' mean, over two schedule periods), or more
# than alert_pending_operations_count pending on average over alert_backlog_minutes. Series of
# several revisions (during a deploy) are reduced to the largest.
resource "google_monitoring_alert_policy" "backlog" {
  project               = var.project_id
  display_name          = "${var.name}: backlog growing"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  user_labels           = var.labels

  conditions {
    display_name = "Oldest pending operation older than ${var.alert_oldest_pending_age_minutes} min"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.oldest_pending_age.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_oldest_pending_age_minutes * 60
      duration        = "0s"
      aggregations {
        alignment_period     = "${local.poll_alignment_seconds}s"
        per_series_aligner   = "ALIGN_MEAN"
        cross_series_reducer = "REDUCE_MAX"
      }
    }
  }

  conditions {
    display_name = "More than ${var.alert_pending_operations_count} operations pending on average over ${var.alert_backlog_minutes} min"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.pending_operations.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_pending_operations_count
      duration        = "0s"
      aggregations {
        alignment_period     = "${var.alert_backlog_minutes * 60}s"
        per_series_aligner   = "ALIGN_MEAN"
        cross_series_reducer = "REDUCE_MAX"
      }
    }
  }

  documentation {
    content   = "Operations stay pending: Insights is slow to finish them, or the poller is not reaching them (the dashboard's backlog chart: notReached above 0 poll after poll means it is not keeping up; raise INSIGHTS_MAX_RPS or the function timeout, or split the locations into shards). Each poll's summary line (jsonPayload.summary) holds pending, notReached, listingComplete and oldestPendingAgeSeconds. An operation pending past MAX_PENDING_AGE is published as EXPIRED."
    mime_type = "text/markdown"
  }

  depends_on = [time_sleep.metrics]
}

# One dashboard per deployment: events by state and type, polls and errors, the backlog, the
# oldest pending age and the detection latency (p50, p95). The JSON is written as the API
# returns it, with no null or empty value and the defaults it would add written out (plotType,
# targetAxis, minAlignmentPeriod, chartOptions, the y axis scale), and no position 0 (omitted
# in its answers): what it adds or drops otherwise shows as a change at every plan
# (hashicorp/terraform-provider-google#16173, "still has perma diffs", and #7242).
locals {
  dashboard_width = 24
  dashboard_tiles = [
    {
      title  = "Published events by state and type"
      y_axis = "events"
      data_sets = [
        {
          filter    = local.metric_filters.published_events
          aligner   = "ALIGN_SUM"
          reducer   = "REDUCE_SUM"
          group_by  = ["metric.label.\"state\"", "metric.label.\"operation_type\""]
          plot_type = "STACKED_BAR"
          period    = 300
        },
      ]
      thresholds = []
    },
    {
      title  = "Polls: successful, failed (5xx), listing cut short"
      y_axis = "polls"
      data_sets = [
        { filter = local.metric_filters.successful_polls, aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", group_by = [], plot_type = "STACKED_BAR", period = 300 },
        { filter = local.metric_filters.failed_polls, aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", group_by = [], plot_type = "STACKED_BAR", period = 300 },
        { filter = local.metric_filters.incomplete_listings, aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", group_by = [], plot_type = "LINE", period = 300 },
      ]
      thresholds = []
    },
    {
      title  = "Backlog: operations pending, not reached (per poll)"
      y_axis = "operations"
      data_sets = [
        { filter = local.metric_filters.pending_operations, aligner = "ALIGN_MEAN", reducer = "REDUCE_MAX", group_by = [], plot_type = "LINE", period = local.poll_alignment_seconds },
        { filter = local.metric_filters.not_reached_operations, aligner = "ALIGN_MEAN", reducer = "REDUCE_MAX", group_by = [], plot_type = "LINE", period = local.poll_alignment_seconds },
      ]
      thresholds = [{ label = "alert (mean over ${var.alert_backlog_minutes} min)", value = var.alert_pending_operations_count }]
    },
    {
      title  = "Oldest pending operation: age"
      y_axis = "seconds"
      data_sets = [
        { filter = local.metric_filters.oldest_pending_age, aligner = "ALIGN_MEAN", reducer = "REDUCE_MAX", group_by = [], plot_type = "LINE", period = local.poll_alignment_seconds },
      ]
      thresholds = [{ label = "alert", value = var.alert_oldest_pending_age_minutes * 60 }]
    },
    {
      title  = "Detection latency: p50, p95"
      y_axis = "seconds"
      data_sets = [
        { filter = local.metric_filters.detection_latency, aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_50", group_by = [], plot_type = "LINE", period = 900 },
        { filter = local.metric_filters.detection_latency, aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_95", group_by = [], plot_type = "LINE", period = 900 },
      ]
      thresholds = []
    },
  ]

  dashboard = {
    displayName = "${var.name}: Insights poller"
    mosaicLayout = {
      columns = 2 * local.dashboard_width
      tiles = [
        for index, tile in local.dashboard_tiles : merge(
          { width = local.dashboard_width, height = 16 },
          index % 2 == 0 ? {} : { xPos = local.dashboard_width },
          index < 2 ? {} : { yPos = 16 * floor(index / 2) },
          {
            widget = {
              title = tile.title
              xyChart = merge(
                {
                  chartOptions = { mode = "COLOR" }
                  yAxis        = { label = tile.y_axis, scale = "LINEAR" }
                  dataSets = [
                    for data_set in tile.data_sets : {
                      plotType           = data_set.plot_type
                      targetAxis         = "Y1"
                      minAlignmentPeriod = "${data_set.period}s"
                      timeSeriesQuery = {
                        timeSeriesFilter = {
                          filter = data_set.filter
                          aggregation = merge(
                            {
                              alignmentPeriod    = "${data_set.period}s"
                              perSeriesAligner   = data_set.aligner
                              crossSeriesReducer = data_set.reducer
                            },
                            length(data_set.group_by) == 0 ? {} : { groupByFields = data_set.group_by },
                          )
                        }
                      }
                    }
                  ]
                },
                length(tile.thresholds) == 0 ? {} : {
                  thresholds = [for threshold in tile.thresholds : merge(threshold, { targetAxis = "Y1" })]
                },
              )
            }
          },
        )
      ]
    }
  }
}

resource "google_monitoring_dashboard" "main" {
  project        = var.project_id
  dashboard_json = jsonencode(local.dashboard)

  depends_on = [google_project_service.main]
}
