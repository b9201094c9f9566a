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
