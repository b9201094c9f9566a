# The poller: a Cloud Function (2nd gen), HTTP-triggered, reachable only from inside the project.

resource "google_cloudfunctions2_function" "main" {
  name        = var.name
  location    = var.region
  description = "Polls Contact Center AI Insights long-running operations and publishes one CloudEvent per finished operation."

  build_config {
    runtime           = "python312"
    entry_point       = "poll_operations"
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.main.id

    source {
      storage_source {
        bucket = google_storage_bucket.main.name
        object = google_storage_bucket_object.main.name
      }
    }
  }

  service_config {
    available_memory               = "${var.function_memory_mib}Mi"
    timeout_seconds                = var.function_timeout_seconds
    min_instance_count             = 0
    max_instance_count             = var.function_max_instance_count
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.runtime.email
    environment_variables          = merge(var.poller_settings, local.poller_environment)

    # Polls one instance serves at once (Cloud Run request concurrency), set explicitly: the
    # provider would otherwise keep whatever the service has. 1 by default, because a poll
    # already runs its own parallelism (INSIGHTS_MAX_CONCURRENCY Insights calls at once), the
    # Insights rate limiter (INSIGHTS_MAX_RPS) is per instance so polls sharing one would split
    # it, and overlapping polls need no shared instance: their state-store claims keep them
    # apart. Above 1 it is safe (each poll publishes in batches of its own), but Cloud Run then
    # needs at least 1 vCPU per instance, which the memory default gives only from 2 GiB: the
    # CPU is set to the larger of 1 vCPU and that default (2 vCPU above 2 GiB).
    max_instance_request_concurrency = var.function_requests_per_instance_count
    available_cpu                    = var.function_requests_per_instance_count > 1 ? (var.function_memory_mib > 2048 ? "2" : "1") : null

    # Ingress: internal only. Relied on: Cloud Run's documented ingress rule ("Restrict network
    # ingress for Cloud Run", setting Internal): requests from Cloud Scheduler (as from Cloud
    # Tasks, Eventarc, Pub/Sub, Workflows, BigQuery) are internal when the job is in the same
    # project or VPC Service Controls perimeter as the service and calls the default run.app URL,
    # not a custom domain. The scheduler job is therefore created in this project and targets
    # service_config[0].uri (the run.app URL), not the cloudfunctions.net `url`. Anything else,
    # including a caller on the internet holding a valid token, is refused. Authentication is
    # still required on top: only the invoker service account holds roles/run.invoker.
    ingress_settings = "ALLOW_INTERNAL_ONLY"
  }

  lifecycle {
    precondition {
      condition     = alltrue([for key in keys(var.poller_settings) : contains(local.tunable_poller_settings, key)])
      error_message = "poller_settings may only set ${join(", ", local.tunable_poller_settings)}: the other variables are set by this configuration."
    }
    precondition {
      condition     = local.publish_timeout_seconds < local.poll_budget_seconds && local.poll_budget_seconds < local.claim_lease_seconds
      error_message = "The poll budget (POLL_BUDGET_SECONDS = ${local.poll_budget_seconds}, from function_timeout_seconds) must exceed PUBLISH_TIMEOUT_SECONDS (${local.publish_timeout_seconds}) and stay below CLAIM_LEASE_SECONDS (${local.claim_lease_seconds}): change function_timeout_seconds or set these in poller_settings."
    }
    # The follow-up window (main.tf) is derived only from the schedule forms "* * * * *" and
    # "*/N * * * *"; the code never follows up past the poll's work deadline, so a longer window
    # would not be the one asked for (insights_poller/core.py ends follow-ups at the earlier).
    precondition {
      condition     = local.follow_up_window_seconds != null
      error_message = "The follow-up window cannot be derived from schedule \"${var.schedule}\" (only \"* * * * *\" and \"*/N * * * *\" are understood): set follow_up_window_seconds, in seconds, to a little less than the shortest time between two of its ticks (at most ${local.poll_work_seconds}, or 0 for no follow-ups)."
    }
    precondition {
      condition     = local.follow_up_window_seconds == null ? true : local.follow_up_window_seconds <= local.poll_work_seconds
      error_message = "follow_up_window_seconds (${coalesce(local.follow_up_window_seconds, 0)}) may not exceed POLL_BUDGET_SECONDS - PUBLISH_TIMEOUT_SECONDS (${local.poll_budget_seconds} - ${local.publish_timeout_seconds} = ${local.poll_work_seconds}): follow-up rounds start only before the poll's work deadline. Lower it, or raise function_timeout_seconds."
    }
  }

  depends_on = [
    google_project_service.main,
    time_sleep.main,
  ]
}

# The first build starts seconds after the build service account gets its roles; IAM grants take
# up to a minute or two to propagate, and a build that starts before fails the whole apply.
resource "time_sleep" "main" {
  create_duration = "90s"

  depends_on = [
    google_project_iam_member.build_log_writer,
    google_project_iam_member.build_source_reader,
    google_artifact_registry_repository_iam_member.main,
    google_storage_bucket_iam_member.main,
  ]
}
