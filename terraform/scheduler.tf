# The schedule: Cloud Scheduler POSTs to the function with an OIDC token of the invoker service
# account. A poll answers 500 when something could not be published; the retry and the next run
# pick it up (overlapping polls are safe: operations are claimed in the state store).

resource "google_cloud_scheduler_job" "main" {
  name        = var.name
  region      = var.region
  description = "Triggers one poll of the ${var.name} function."
  schedule    = var.schedule
  time_zone   = var.schedule_time_zone

  # Longer than the function may run (the margin covers a cold start), so Cloud Scheduler never
  # gives up on a poll that is still working; an invocation, follow-ups included, ends within
  # POLL_BUDGET_SECONDS, 60 s before the timeout. At most 1800s, Cloud Scheduler's limit for
  # HTTP targets: var.function_timeout_seconds is validated accordingly.
  attempt_deadline = "${var.function_timeout_seconds + 30}s"

  retry_config {
    retry_count          = var.scheduler_retry_count
    min_backoff_duration = "30s"
    max_backoff_duration = "300s"
    max_doublings        = 3
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.main.service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = google_cloudfunctions2_function.main.service_config[0].uri
    }
  }

  depends_on = [
    google_project_service.main,
    google_cloud_run_v2_service_iam_member.main,
  ]
}
