# The function's source: an archive built from an explicit allow-list of the repository, uploaded
# under a name that carries the archive's hash, so that every code change redeploys the function.

locals {
  repository_root = "${path.module}/.."

  # What is deployed, relative to the repository root: main.py, requirements.txt and the poller
  # package, its code and its settings declaration. Everything else (the Insights emulator,
  # tests/, devstack/, virtualenvs, caches) lives outside the package and stays out.
  source_root_files    = ["main.py", "requirements.txt"]
  source_package_globs = ["insights_poller/**/*.py", "insights_poller/**/*.json"]

  source_files = sort(concat(
    local.source_root_files,
    flatten([for glob in local.source_package_globs : tolist(fileset(local.repository_root, glob))]),
  ))
}

data "archive_file" "main" {
  type             = "zip"
  output_path      = "${path.module}/.build/function-source.zip"
  output_file_mode = "0644"

  dynamic "source" {
    for_each = toset(local.source_files)
    content {
      content  = file("${local.repository_root}/${source.value}")
      filename = source.value
    }
  }
}

resource "google_storage_bucket" "main" {
  # checkov:skip=CKV_GCP_62:The bucket holds only build inputs that Terraform writes; access is audited by Cloud Audit Logs, and a second bucket just to receive usage logs adds cost for no reader.
  name                        = "${var.project_id}-${var.name}-source"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  # A new archive replaces the previous object; versioning keeps the replaced one for a while
  # (a rollback is a re-upload) and the lifecycle rule then deletes it. The live object stays:
  # Cloud Build reads it again whenever the function is rebuilt.
  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.source_archive_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.main]
}

resource "google_storage_bucket_object" "main" {
  name         = "function-source-${data.archive_file.main.output_md5}.zip"
  bucket       = google_storage_bucket.main.name
  source       = data.archive_file.main.output_path
  content_type = "application/zip"

  lifecycle {
    create_before_destroy = true
  }
}

# Where Cloud Build pushes the function's image. Our own repository (instead of the
# gcf-artifacts one Cloud Functions would create) lets the build service account write to this
# repository only, and the cleanup policies bound its size.
resource "google_artifact_registry_repository" "main" {
  # checkov:skip=CKV_GCP_84:The images hold only the open-source poller code and its public dependencies; Google-managed encryption is adequate, and CMEK would add a key the user must manage.
  location               = var.region
  repository_id          = "${var.name}-images"
  description            = "Container images Cloud Build builds for the ${var.name} function."
  format                 = "DOCKER"
  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 5
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "${var.image_retention_days * 86400}s"
    }
  }

  depends_on = [google_project_service.main]
}
