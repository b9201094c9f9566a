# The defaults, planned and applied, and the same with the project's existing "(default)"
# Firestore database instead of a created one. Every provider is mocked: `make test` runs this
# offline, against providers that know only their schema (see ../README.md, "Checks").

mock_provider "google" {
  source = "./tests/mocks"
}

mock_provider "archive" {}

mock_provider "time" {}

variables {
  project_id = "my-project"
}

run "plan_defaults" {
  command = plan

  assert {
    condition     = length(google_project_service.main) == 13 && !google_project_service.main["contactcenterinsights.googleapis.com"].disable_on_destroy
    error_message = "The 13 APIs are enabled, and left enabled on destroy."
  }

  # The database and collection are named after var.name; with the default name they are those
  # of earlier versions, whose default was the constant "insights-poller": an existing
  # deployment keeps its state.
  assert {
    condition     = length(google_firestore_database.main) == 1 && google_firestore_database.main[0].name == "insights-poller"
    error_message = "By default the poller's own Firestore database, insights-poller, is created."
  }

  assert {
    condition     = google_firestore_database.main[0].location_id == "us-central1" && google_firestore_database.main[0].type == "FIRESTORE_NATIVE"
    error_message = "The created database is in native mode, in the region."
  }

  assert {
    condition     = google_firestore_database.main[0].delete_protection_state == "DELETE_PROTECTION_ENABLED" && google_firestore_database.main[0].deletion_policy == "ABANDON"
    error_message = "terraform destroy must leave the state database in place."
  }

  assert {
    condition     = output.state_url == "firestore://insights-poller/insights-poller"
    error_message = "STATE_URL must name the created database and the collection, not ${output.state_url}."
  }

  assert {
    condition     = google_project_iam_member.runtime_firestore_user.condition[0].expression == "resource.name == \"projects/my-project/databases/insights-poller\""
    error_message = "The runtime account's Firestore grant must be limited to the created database."
  }

  assert {
    condition     = google_cloudfunctions2_function.main.service_config[0].timeout_seconds == 420 && google_cloudfunctions2_function.main.service_config[0].environment_variables["POLL_BUDGET_SECONDS"] == "360"
    error_message = "The poll budget is the function timeout less 60 s."
  }

  assert {
    condition     = google_cloud_scheduler_job.main.attempt_deadline == "450s" && google_cloud_scheduler_job.main.schedule == "*/5 * * * *"
    error_message = "The scheduler waits 30 s longer than the function may run, every 5 minutes."
  }

  # The 5-minute period less 10 s: follow-ups cover the period, and end before the next tick.
  assert {
    condition     = google_cloudfunctions2_function.main.service_config[0].environment_variables["FOLLOW_UP_WINDOW_SECONDS"] == "290"
    error_message = "With the default schedule the follow-up window is 300 s - 10 s, not ${google_cloudfunctions2_function.main.service_config[0].environment_variables["FOLLOW_UP_WINDOW_SECONDS"]}."
  }

  # Each timing fits inside the next: window <= budget - publish timeout (the code refuses
  # more), budget < function timeout < the scheduler's attempt deadline.
  assert {
    condition     = tonumber(google_cloudfunctions2_function.main.service_config[0].environment_variables["FOLLOW_UP_WINDOW_SECONDS"]) <= tonumber(google_cloudfunctions2_function.main.service_config[0].environment_variables["POLL_BUDGET_SECONDS"]) - local.publish_timeout_seconds
    error_message = "FOLLOW_UP_WINDOW_SECONDS must not exceed POLL_BUDGET_SECONDS - PUBLISH_TIMEOUT_SECONDS."
  }

  assert {
    condition     = tonumber(google_cloudfunctions2_function.main.service_config[0].environment_variables["POLL_BUDGET_SECONDS"]) < google_cloudfunctions2_function.main.service_config[0].timeout_seconds
    error_message = "POLL_BUDGET_SECONDS must be less than the function timeout."
  }

  assert {
    condition     = tonumber(trimsuffix(google_cloud_scheduler_job.main.attempt_deadline, "s")) > google_cloudfunctions2_function.main.service_config[0].timeout_seconds
    error_message = "The scheduler's attempt deadline must outlast the function timeout."
  }

  # Detection latency: a distribution whose finite buckets reach from 0.1 s to past an hour.
  assert {
    condition = alltrue([
      google_logging_metric.detection_latency.metric_descriptor[0].metric_kind == "DELTA",
      google_logging_metric.detection_latency.metric_descriptor[0].value_type == "DISTRIBUTION",
      google_logging_metric.detection_latency.metric_descriptor[0].unit == "s",
      google_logging_metric.detection_latency.value_extractor == "EXTRACT(jsonPayload.detectionLatencySeconds)",
      google_logging_metric.detection_latency.bucket_options[0].exponential_buckets[0].scale <= 0.1,
      google_logging_metric.detection_latency.bucket_options[0].exponential_buckets[0].scale * pow(google_logging_metric.detection_latency.bucket_options[0].exponential_buckets[0].growth_factor, google_logging_metric.detection_latency.bucket_options[0].exponential_buckets[0].num_finite_buckets) >= 3600,
    ])
    error_message = "The detection latency metric must be a DELTA distribution in seconds of jsonPayload.detectionLatencySeconds, bucketed from 0.1 s to at least an hour."
  }

  assert {
    condition     = google_cloudfunctions2_function.main.service_config[0].ingress_settings == "ALLOW_INTERNAL_ONLY"
    error_message = "The function must be reachable from inside the project only."
  }

  assert {
    condition     = length(google_pubsub_subscription.example) == 1 && length(google_pubsub_topic.dead_letter) == 1
    error_message = "By default the example subscription and its dead-letter topic are created."
  }

  assert {
    condition     = length(google_pubsub_topic_iam_member.events_subscribers) == 0
    error_message = "By default no one else may attach subscriptions to the events topic."
  }

  # The backlog: one value per poll, from its summary line, as DELTA distributions.
  assert {
    condition = alltrue([
      google_logging_metric.pending_operations.value_extractor == "EXTRACT(jsonPayload.summary.pending)",
      google_logging_metric.not_reached_operations.value_extractor == "EXTRACT(jsonPayload.summary.notReached)",
      google_logging_metric.oldest_pending_age.value_extractor == "EXTRACT(jsonPayload.summary.oldestPendingAgeSeconds)",
      google_logging_metric.oldest_pending_age.metric_descriptor[0].unit == "s",
      google_logging_metric.incomplete_listings.filter == "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"insights-poller\" AND jsonPayload.summary.listingComplete=false",
    ])
    error_message = "The backlog metrics must read the poll summary's pending, notReached, oldestPendingAgeSeconds and listingComplete."
  }

  assert {
    condition = alltrue([
      for metric in [google_logging_metric.pending_operations, google_logging_metric.not_reached_operations, google_logging_metric.oldest_pending_age] :
      metric.metric_descriptor[0].metric_kind == "DELTA" && metric.metric_descriptor[0].value_type == "DISTRIBUTION" && endswith(metric.filter, "${trimsuffix(trimprefix(metric.value_extractor, "EXTRACT("), ")")}>=0")
    ])
    error_message = "Each backlog metric must be a DELTA distribution of summary lines that carry its field as a number."
  }

  # The backlog alert: the oldest pending operation past 6 hours (the latest polls' mean over
  # two 5-minute periods), or more than 1000 pending on average over an hour.
  assert {
    condition = alltrue([
      google_monitoring_alert_policy.backlog.conditions[0].condition_threshold[0].threshold_value == 21600,
      google_monitoring_alert_policy.backlog.conditions[0].condition_threshold[0].aggregations[0].alignment_period == "600s",
      google_monitoring_alert_policy.backlog.conditions[0].condition_threshold[0].aggregations[0].per_series_aligner == "ALIGN_MEAN",
      google_monitoring_alert_policy.backlog.conditions[1].condition_threshold[0].threshold_value == 1000,
      google_monitoring_alert_policy.backlog.conditions[1].condition_threshold[0].aggregations[0].alignment_period == "3600s",
      google_monitoring_alert_policy.backlog.conditions[1].condition_threshold[0].aggregations[0].per_series_aligner == "ALIGN_MEAN",
      length(google_monitoring_alert_policy.backlog.notification_channels) == 0,
    ])
    error_message = "The backlog alert must fire on a 6-hour-old pending operation or 1000 pending over an hour, notifying no one by default."
  }

  # The dashboard: five charts, each reading this deployment's metrics.
  assert {
    condition = alltrue([
      jsondecode(google_monitoring_dashboard.main.dashboard_json).displayName == "insights-poller: Insights poller",
      length(jsondecode(google_monitoring_dashboard.main.dashboard_json).mosaicLayout.tiles) == 5,
      alltrue(flatten([
        for tile in jsondecode(google_monitoring_dashboard.main.dashboard_json).mosaicLayout.tiles : [
          for data_set in tile.widget.xyChart.dataSets :
          startswith(data_set.timeSeriesQuery.timeSeriesFilter.filter, "metric.type=\"logging.googleapis.com/user/insights-poller/")
        ]
      ])),
    ])
    error_message = "The dashboard must chart this deployment's log-based metrics in five tiles."
  }

  assert {
    condition = toset(flatten([
      for tile in jsondecode(google_monitoring_dashboard.main.dashboard_json).mosaicLayout.tiles : [
        for data_set in tile.widget.xyChart.dataSets : regex("user/insights-poller/([a-z_]+)", data_set.timeSeriesQuery.timeSeriesFilter.filter)[0]
      ]
    ])) == toset([for metric in values(local.metric_filters) : regex("user/insights-poller/([a-z_]+)", metric)[0]])
    error_message = "The dashboard must chart every log-based metric of the deployment."
  }
}

run "apply_defaults" {
  assert {
    condition     = google_cloudfunctions2_function.main.service_config[0].environment_variables["GOOGLE_CLOUD_PROJECT_NUMBER"] == "123456789012"
    error_message = "The function must know the project number (from data.google_project)."
  }

  assert {
    condition     = google_cloudfunctions2_function.main.service_config[0].environment_variables["STATE_URL"] == output.state_url
    error_message = "The function's STATE_URL must be the one output."
  }

  assert {
    condition     = google_cloudfunctions2_function.main.service_config[0].environment_variables["RESULTS_TOPIC"] == google_pubsub_topic.events.id
    error_message = "The function must publish to the events topic."
  }

  assert {
    condition     = google_pubsub_topic_iam_member.dead_letter_publisher[0].member == "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"
    error_message = "The Pub/Sub service agent of this project must be the dead-letter publisher."
  }

  assert {
    condition     = google_pubsub_subscription.example[0].dead_letter_policy[0].dead_letter_topic == google_pubsub_topic.dead_letter[0].id
    error_message = "The example subscription must dead-letter to the dead-letter topic."
  }

  assert {
    condition     = alltrue([for metric in [google_logging_metric.published_events, google_logging_metric.detection_latency, google_logging_metric.successful_polls, google_logging_metric.failed_polls, google_logging_metric.pending_operations, google_logging_metric.not_reached_operations, google_logging_metric.oldest_pending_age, google_logging_metric.incomplete_listings] : contains(split(",", time_sleep.metrics.triggers["metrics"]), metric.id)])
    error_message = "The alert policies must wait for the log-based metrics they read."
  }
}

run "plan_existing_default_database" {
  command = plan

  variables {
    create_firestore_database = false
    firestore_database_id     = "(default)"
  }

  assert {
    condition     = length(google_firestore_database.main) == 0
    error_message = "No database is created when an existing one is used."
  }

  assert {
    condition     = output.state_url == "firestore:///insights-poller"
    error_message = "The \"(default)\" database is spelled firestore:///COLLECTION, not ${output.state_url}."
  }

  assert {
    condition     = google_project_iam_member.runtime_firestore_user.condition[0].expression == "resource.name == \"projects/my-project/databases/(default)\""
    error_message = "The runtime account's Firestore grant must be limited to the existing database."
  }
}

run "apply_existing_default_database" {
  variables {
    create_firestore_database = false
    firestore_database_id     = "(default)"
  }

  assert {
    condition     = length(google_firestore_database.main) == 0
    error_message = "No database is created when an existing one is used."
  }

  assert {
    condition     = google_cloudfunctions2_function.main.service_config[0].environment_variables["STATE_URL"] == "firestore:///insights-poller"
    error_message = "The function must use the project's \"(default)\" database."
  }
}

# Subscribers in other projects may attach subscriptions to the events topic: roles/pubsub.subscriber
# on the topic, for each member, and nothing on the example subscription.
run "plan_subscriber_members" {
  command = plan

  variables {
    subscriber_members = [
      "serviceAccount:reader@other-project.iam.gserviceaccount.com",
      "group:insights-consumers@example.com",
    ]
  }

  assert {
    condition = alltrue([
      length(google_pubsub_topic_iam_member.events_subscribers) == 2,
      alltrue([for grant in google_pubsub_topic_iam_member.events_subscribers : grant.role == "roles/pubsub.subscriber" && grant.topic == google_pubsub_topic.events.name && grant.project == "my-project"]),
      toset([for grant in google_pubsub_topic_iam_member.events_subscribers : grant.member]) == toset(["serviceAccount:reader@other-project.iam.gserviceaccount.com", "group:insights-consumers@example.com"]),
    ])
    error_message = "Each subscriber member must get roles/pubsub.subscriber on the events topic."
  }

  assert {
    condition     = google_pubsub_subscription_iam_member.main[0].member == "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"
    error_message = "The example subscription's only grant stays the Pub/Sub service agent's."
  }
}
