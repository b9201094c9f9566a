# Root module of the Insights operations poller: a Cloud Function (2nd gen) that Cloud Scheduler
# triggers, which publishes one CloudEvent per finished Contact Center AI Insights operation.
#
# Files by purpose: apis.tf (services), source.tf (code archive, bucket, image repository),
# function.tf, scheduler.tf, pubsub.tf, firestore.tf, iam.tf (identities and every grant),
# monitoring.tf (log-based metrics, alert policies, dashboard).
#
# Every name is derived from var.name, so one project can hold several deployments (shards, e.g.
# one per Insights location), each with its own name and its own state (backend.tf.example).

# For the project number (the Pub/Sub service agent's address, and the function's
# GOOGLE_CLOUD_PROJECT_NUMBER). Read once the APIs are on: in a
# new project the Cloud Resource Manager API it calls may not be enabled yet at plan time.
data "google_project" "main" {
  project_id = var.project_id

  depends_on = [google_project_service.main]
}

locals {
  # Every setting of the code, declared once for the code, its README and this configuration:
  # the variable's name -> how it is deployed, its default and bounds (format described in
  # insights_poller/settings.py).
  declared_poller_settings = jsondecode(file("${local.repository_root}/insights_poller/settings.json"))

  # The environment the function runs with: every variable the code requires, and the optional
  # ones this configuration owns. tests/unit/terraform/test_terraform.py holds these names against the ones
  # declared "managed".
  poller_environment = {
    GOOGLE_CLOUD_PROJECT = var.project_id
    # Insights answers names with the project number: the function accepts either spelling in
    # request bodies, and knows the number from its first request on.
    GOOGLE_CLOUD_PROJECT_NUMBER = data.google_project.main.number
    INSIGHTS_LOCATIONS          = join(",", var.insights_locations)
    RESULTS_TOPIC               = google_pubsub_topic.events.id
    STATE_URL                   = local.state_url
    POLL_BUDGET_SECONDS         = tostring(local.poll_budget_seconds)
    FOLLOW_UP_WINDOW_SECONDS    = tostring(local.follow_up_window_seconds)
  }

  # Optional settings of the code a user may set through var.poller_settings: those declared
  # "tunable". The others are managed (poller_environment) or local (emulator hosts), which are
  # never deployed.
  tunable_poller_settings = [for name, setting in local.declared_poller_settings : name if setting.deploy == "tunable"]

  # A poll must be done (publishes awaited, records written) before the platform cuts the
  # request at the function timeout: its budget follows the timeout, less a margin for a cold
  # start. The code requires PUBLISH_TIMEOUT_SECONDS < POLL_BUDGET_SECONDS < CLAIM_LEASE_SECONDS;
  # the function's precondition checks that at plan time, with the code's declared defaults for
  # what poller_settings leaves unset.
  poll_budget_seconds     = var.function_timeout_seconds - 60
  publish_timeout_seconds = tonumber(lookup(var.poller_settings, "PUBLISH_TIMEOUT_SECONDS", local.declared_poller_settings["PUBLISH_TIMEOUT_SECONDS"].default))
  claim_lease_seconds     = tonumber(lookup(var.poller_settings, "CLAIM_LEASE_SECONDS", local.declared_poller_settings["CLAIM_LEASE_SECONDS"].default))

  # FOLLOW_UP_WINDOW_SECONDS: how long after its start an invocation keeps re-checking the
  # operations its poll left pending (every FOLLOW_UP_SECONDS). It should end before the next
  # tick: Cloud Scheduler never runs two executions of a job at once, and delays a tick until the
  # previous execution has finished (Cloud Scheduler API, Job.schedule: "execution n + 1 of a job
  # will not begin until execution n has finished"). So, unless var.follow_up_window_seconds sets
  # it, it is the time between two ticks less a margin for the last round and its publishes,
  # capped at the poll's work deadline, POLL_BUDGET_SECONDS - PUBLISH_TIMEOUT_SECONDS: the code
  # starts follow-up rounds only before it, whatever the window says (a longer one set in
  # var.follow_up_window_seconds fails the function's precondition instead).
  # tests/unit/terraform/test_terraform.py holds this rule against the code's.
  #
  # The schedule's minute step: 1 for "* * * * *", N for "*/N * * * *", null for any other form
  # (the function's precondition then asks for var.follow_up_window_seconds).
  schedule_minute_step = one([for match in regexall("^(?:\\*|\\*/([1-9][0-9]*))(?: +\\*){4}$", trimspace(var.schedule)) : match[0] == null ? 1 : tonumber(match[0])])
  # The shortest time between two ticks: */N fires at minutes 0, N, 2N, ... of every hour, so when
  # N does not divide 60 the gap across the hour is shorter (*/7: from :56 to :00, 4 minutes).
  schedule_period_seconds  = local.schedule_minute_step == null ? null : 60 * min(local.schedule_minute_step, 60 - local.schedule_minute_step * floor(59 / local.schedule_minute_step))
  follow_up_margin_seconds = 10
  poll_work_seconds        = local.poll_budget_seconds - local.publish_timeout_seconds
  follow_up_window_seconds = var.follow_up_window_seconds != null ? var.follow_up_window_seconds : local.schedule_period_seconds == null ? null : min(local.schedule_period_seconds - local.follow_up_margin_seconds, local.poll_work_seconds)

  # The state store, named after var.name unless set, so that two deployments in one project
  # (different names) never share state: a database each, or, when they are given one existing
  # database, a collection each (the collection also holds the watch start and the cursors).
  # A database ID has 4-63 characters (Firestore API, projects.databases.create, databaseId),
  # a name may have 3: such a name gets the suffix -state. The default name keeps the database
  # and collection "insights-poller" of earlier versions.
  configured_firestore_database_id = coalesce(var.firestore_database_id, length(var.name) >= 4 ? var.name : "${var.name}-state")
  firestore_collection             = coalesce(var.firestore_collection, var.name)

  # The code accepts firestore:///COLLECTION (default database) or
  # firestore://DATABASE/COLLECTION; on Cloud Run it refuses anything that is not Firestore.
  firestore_database_id = var.create_firestore_database ? google_firestore_database.main[0].name : local.configured_firestore_database_id
  state_url             = local.firestore_database_id == "(default)" ? "firestore:///${local.firestore_collection}" : "firestore://${local.firestore_database_id}/${local.firestore_collection}"

  # The Pub/Sub service agent moves undeliverable messages to the dead-letter topic.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.main.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}
