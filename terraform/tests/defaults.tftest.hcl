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
    condition     = time_sleep.metrics.triggers["metrics"] == join(",", [google_logging_metric.published_events.id, google_logging_metric.detection_latency.id, google_logging_metric.successful_polls.id, google_logging_metric.failed_polls.id])
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
