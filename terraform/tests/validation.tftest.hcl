# Bad inputs stop at plan, with the variable's (or the function's precondition's) message, and
# the limits themselves are accepted. Every provider is mocked (see ../README.md, "Checks").

mock_provider "google" {
  source = "./tests/mocks"
}

mock_provider "archive" {}

mock_provider "time" {}

variables {
  project_id = "my-project"
}

# A metric-absence condition lasts at most 23.5 hours: 1410 minutes, not a day.
run "absence_alert_longer_than_the_api_allows" {
  command = plan

  variables {
    alert_no_successful_poll_minutes = 1440
  }

  expect_failures = [var.alert_no_successful_poll_minutes]
}

run "absence_alert_at_the_api_limit" {
  command = plan

  variables {
    alert_no_successful_poll_minutes = 1410
  }

  assert {
    condition     = google_monitoring_alert_policy.no_successful_poll.conditions[0].condition_absent[0].duration == "84600s"
    error_message = "1410 minutes is an absence of 84600 s."
  }
}

run "project_number_instead_of_id" {
  command = plan

  variables {
    project_id = "389908145857"
  }

  expect_failures = [var.project_id]
}

# Cloud Scheduler allows an attempt deadline of at most 1800 s, and it is the timeout + 30 s.
run "function_timeout_past_the_scheduler_limit" {
  command = plan

  variables {
    function_timeout_seconds = 1800
  }

  expect_failures = [var.function_timeout_seconds]
}

run "tunable_setting_reaches_the_function" {
  command = plan

  variables {
    poller_settings = { MAX_PENDING_AGE = "3600", OPERATION_TYPES = "ExportInsightsData" }
  }

  assert {
    condition     = google_cloudfunctions2_function.main.service_config[0].environment_variables["MAX_PENDING_AGE"] == "3600" && google_cloudfunctions2_function.main.service_config[0].environment_variables["OPERATION_TYPES"] == "ExportInsightsData"
    error_message = "Settings declared \"tunable\" in insights_poller/settings.json must reach the function."
  }
}

run "setting_owned_by_the_configuration" {
  command = plan

  variables {
    poller_settings = { STATE_URL = "firestore:///elsewhere" }
  }

  expect_failures = [google_cloudfunctions2_function.main]
}

run "emulator_host_never_deployed" {
  command = plan

  variables {
    poller_settings = { INSIGHTS_EMULATOR_HOST = "localhost:8089" }
  }

  expect_failures = [google_cloudfunctions2_function.main]
}

# The code requires PUBLISH_TIMEOUT_SECONDS < POLL_BUDGET_SECONDS (timeout - 60).
run "publish_timeout_past_the_poll_budget" {
  command = plan

  variables {
    function_timeout_seconds = 180
    poller_settings          = { PUBLISH_TIMEOUT_SECONDS = "120" }
  }

  expect_failures = [google_cloudfunctions2_function.main]
}

# ... and POLL_BUDGET_SECONDS < CLAIM_LEASE_SECONDS, whose declared default (600) applies here.
run "poll_budget_past_the_default_claim_lease" {
  command = plan

  variables {
    function_timeout_seconds = 1770
  }

  expect_failures = [google_cloudfunctions2_function.main]
}

run "claim_lease_raised_past_a_long_poll_budget" {
  command = plan

  variables {
    function_timeout_seconds = 1770
    poller_settings          = { CLAIM_LEASE_SECONDS = "1800" }
  }

  assert {
    condition     = google_cloudfunctions2_function.main.service_config[0].environment_variables["CLAIM_LEASE_SECONDS"] == "1800"
    error_message = "A raised CLAIM_LEASE_SECONDS must reach the function."
  }
}

# --- The follow-up window (FOLLOW_UP_WINDOW_SECONDS) -------------------------------------------
# Derived from the schedule ("* * * * *" or "*/N * * * *": the shortest time between two ticks,
# less 10 s), capped at POLL_BUDGET_SECONDS - PUBLISH_TIMEOUT_SECONDS; follow_up_window_seconds
# overrides it. Each run that plans also holds the timings against each other.

run "follow_up_window_every_minute" {
  command = plan

  variables {
    schedule = "* * * * *"
  }

  assert {
    condition     = google_cloudfunctions2_function.main.service_config[0].environment_variables["FOLLOW_UP_WINDOW_SECONDS"] == "50"
    error_message = "Every minute, the window is 60 s - 10 s, not ${google_cloudfunctions2_function.main.service_config[0].environment_variables["FOLLOW_UP_WINDOW_SECONDS"]}."
  }

  assert {
    condition     = tonumber(google_cloudfunctions2_function.main.service_config[0].environment_variables["FOLLOW_UP_WINDOW_SECONDS"]) <= tonumber(google_cloudfunctions2_function.main.service_config[0].environment_variables["POLL_BUDGET_SECONDS"]) - local.publish_timeout_seconds
    error_message = "FOLLOW_UP_WINDOW_SECONDS must not exceed POLL_BUDGET_SECONDS - PUBLISH_TIMEOUT_SECONDS."
  }
}

# */7 fires at :00, :07, ... :56, then :00 again: the shortest gap is 4 minutes, not 7.
run "follow_up_window_of_a_step_that_does_not_divide_the_hour" {
  command = plan

  variables {
    schedule = "*/7 * * * *"
  }

  assert {
    condition     = google_cloudfunctions2_function.main.service_config[0].environment_variables["FOLLOW_UP_WINDOW_SECONDS"] == "230"
    error_message = "For */7 the window is the 4 minutes from :56 to :00 less 10 s, not ${google_cloudfunctions2_function.main.service_config[0].environment_variables["FOLLOW_UP_WINDOW_SECONDS"]}."
  }
}

# The shortest timeout: POLL_BUDGET_SECONDS 120, less PUBLISH_TIMEOUT_SECONDS 60.
run "follow_up_window_capped_at_the_work_deadline" {
  command = plan

  variables {
    function_timeout_seconds = 180
  }

  assert {
    condition     = google_cloudfunctions2_function.main.service_config[0].environment_variables["FOLLOW_UP_WINDOW_SECONDS"] == "60"
    error_message = "The window must be capped at 120 s - 60 s, not ${google_cloudfunctions2_function.main.service_config[0].environment_variables["FOLLOW_UP_WINDOW_SECONDS"]}."
  }
}

# The cap follows a PUBLISH_TIMEOUT_SECONDS set in poller_settings: 360 - 120.
run "follow_up_window_capped_by_a_raised_publish_timeout" {
  command = plan

  variables {
    poller_settings = { PUBLISH_TIMEOUT_SECONDS = "120" }
  }

  assert {
    condition     = google_cloudfunctions2_function.main.service_config[0].environment_variables["FOLLOW_UP_WINDOW_SECONDS"] == "240"
    error_message = "The window must be capped at 360 s - 120 s, not ${google_cloudfunctions2_function.main.service_config[0].environment_variables["FOLLOW_UP_WINDOW_SECONDS"]}."
  }
}

# The longest timeout, and a half-hourly schedule: 1800 s - 10 s capped at 1710 s - 60 s.
run "follow_up_window_with_the_longest_timeout" {
  command = plan

  variables {
    schedule                 = "*/30 * * * *"
    function_timeout_seconds = 1770
    poller_settings          = { CLAIM_LEASE_SECONDS = "1800" }
  }

  assert {
    condition     = google_cloudfunctions2_function.main.service_config[0].environment_variables["FOLLOW_UP_WINDOW_SECONDS"] == "1650"
    error_message = "The window must be capped at 1710 s - 60 s, not ${google_cloudfunctions2_function.main.service_config[0].environment_variables["FOLLOW_UP_WINDOW_SECONDS"]}."
  }

  assert {
    condition     = tonumber(google_cloudfunctions2_function.main.service_config[0].environment_variables["POLL_BUDGET_SECONDS"]) < google_cloudfunctions2_function.main.service_config[0].timeout_seconds
    error_message = "POLL_BUDGET_SECONDS must be less than the function timeout."
  }

  assert {
    condition     = tonumber(trimsuffix(google_cloud_scheduler_job.main.attempt_deadline, "s")) > google_cloudfunctions2_function.main.service_config[0].timeout_seconds
    error_message = "The scheduler's attempt deadline must outlast the function timeout."
  }
}

run "follow_up_window_set_explicitly_wins" {
  command = plan

  variables {
    follow_up_window_seconds = 120
  }

  assert {
    condition     = google_cloudfunctions2_function.main.service_config[0].environment_variables["FOLLOW_UP_WINDOW_SECONDS"] == "120"
    error_message = "follow_up_window_seconds must reach the function as it is."
  }
}

run "follow_up_window_set_for_a_schedule_it_cannot_be_derived_from" {
  command = plan

  variables {
    schedule                 = "0 * * * *"
    follow_up_window_seconds = 0
  }

  assert {
    condition     = google_cloudfunctions2_function.main.service_config[0].environment_variables["FOLLOW_UP_WINDOW_SECONDS"] == "0"
    error_message = "follow_up_window_seconds = 0 (no follow-ups) must reach the function."
  }
}

run "follow_up_window_not_derivable_from_the_schedule" {
  command = plan

  variables {
    schedule = "0 * * * *"
  }

  expect_failures = [google_cloudfunctions2_function.main]
}

# The code refuses FOLLOW_UP_WINDOW_SECONDS > POLL_BUDGET_SECONDS - PUBLISH_TIMEOUT_SECONDS
# (360 - 60 by default); the limit itself is accepted.
run "follow_up_window_past_the_work_deadline" {
  command = plan

  variables {
    follow_up_window_seconds = 301
  }

  expect_failures = [google_cloudfunctions2_function.main]
}

run "follow_up_window_at_the_work_deadline" {
  command = plan

  variables {
    follow_up_window_seconds = 300
  }

  assert {
    condition     = google_cloudfunctions2_function.main.service_config[0].environment_variables["FOLLOW_UP_WINDOW_SECONDS"] == "300"
    error_message = "A window of exactly POLL_BUDGET_SECONDS - PUBLISH_TIMEOUT_SECONDS is accepted."
  }
}

run "follow_up_window_not_whole" {
  command = plan

  variables {
    follow_up_window_seconds = 2.5
  }

  expect_failures = [var.follow_up_window_seconds]
}

run "follow_up_window_past_its_declared_maximum" {
  command = plan

  variables {
    follow_up_window_seconds = 3541
  }

  expect_failures = [var.follow_up_window_seconds]
}

# subscriber_members: named principals only, never the public.
run "subscriber_member_public" {
  command = plan

  variables {
    subscriber_members = ["allUsers"]
  }

  expect_failures = [var.subscriber_members]
}

run "subscriber_member_without_its_kind" {
  command = plan

  variables {
    subscriber_members = ["reader@other-project.iam.gserviceaccount.com"]
  }

  expect_failures = [var.subscriber_members]
}

run "subscriber_member_federated_identity" {
  command = plan

  variables {
    subscriber_members = ["principalSet://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/attribute.team/insights"]
  }

  assert {
    condition     = length(google_pubsub_topic_iam_member.events_subscribers) == 1
    error_message = "A workload identity principal set may subscribe."
  }
}

# The backlog alert's windows and thresholds.
run "backlog_window_past_a_day" {
  command = plan

  variables {
    alert_backlog_minutes = 1441
  }

  expect_failures = [var.alert_backlog_minutes]
}

run "backlog_alert_with_a_sparse_schedule" {
  command = plan

  variables {
    schedule                         = "*/30 * * * *"
    alert_oldest_pending_age_minutes = 90
    alert_pending_operations_count   = 50
    alert_backlog_minutes            = 120
  }

  # Two 30-minute periods: the look-back always holds a poll.
  assert {
    condition = alltrue([
      google_monitoring_alert_policy.backlog.conditions[0].condition_threshold[0].aggregations[0].alignment_period == "3600s",
      google_monitoring_alert_policy.backlog.conditions[0].condition_threshold[0].threshold_value == 5400,
      google_monitoring_alert_policy.backlog.conditions[1].condition_threshold[0].aggregations[0].alignment_period == "7200s",
      google_monitoring_alert_policy.backlog.conditions[1].condition_threshold[0].threshold_value == 50,
    ])
    error_message = "The backlog alert must follow its variables, and look back two schedule periods for the age."
  }
}

run "firestore_database_id_too_short" {
  command = plan

  variables {
    firestore_database_id = "abc"
  }

  expect_failures = [var.firestore_database_id]
}
