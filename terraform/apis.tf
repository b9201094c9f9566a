# The APIs the poller and its deployment use. Left enabled on destroy: other workloads in the
# project may depend on them. The Service Usage API itself must already be on (it is in every
# new project). Eventarc is not used: Cloud Scheduler calls the function over HTTP.
locals {
  services = [
    "artifactregistry.googleapis.com",     # the function's container images
    "cloudbuild.googleapis.com",           # builds the image from the source archive
    "cloudfunctions.googleapis.com",       # the function (2nd gen)
    "cloudresourcemanager.googleapis.com", # project IAM grants
    "cloudscheduler.googleapis.com",       # the schedule
    "contactcenterinsights.googleapis.com",
    "firestore.googleapis.com",  # the state store
    "iam.googleapis.com",        # service accounts and the custom role
    "logging.googleapis.com",    # build and function logs, log-based metrics
    "monitoring.googleapis.com", # alert policies
    "pubsub.googleapis.com",     # the events
    "run.googleapis.com",        # 2nd gen functions run as Cloud Run services
    "storage.googleapis.com",    # the source bucket
  ]
}

resource "google_project_service" "main" {
  for_each = toset(local.services)

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
