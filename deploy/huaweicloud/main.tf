locals {
  ocr_region       = var.ocr_region != "" ? var.ocr_region : var.region
  ocr_regions      = toset(concat([local.ocr_region], values(var.ocr_api_regions)))
  artifacts_bucket = var.artifacts_bucket != "" ? var.artifacts_bucket : "${var.upload_bucket}-ocrflow"
  upload_bucket    = var.create_upload_bucket ? one(huaweicloud_obs_bucket.uploads[*].bucket) : var.upload_bucket

  # a new zip is a new key, and so a new code_url: the functions are updated with it
  code_key          = "code/ocrflow-functiongraph-${try(filemd5(var.package_path), "missing")}.zip"
  claim_check_path  = "results/"
  failed_path       = "failed-invocations/"
  recognize_name    = "${var.name}-recognize"
  redrive_name      = "${var.name}-redrive"
  in_vpc            = var.vpc_id != ""
  ces_endpoint      = "https://ces.${var.region}.myhuaweicloud.com"
  alarm_topic_urn   = var.alarm_topic_urn != "" ? var.alarm_topic_urn : one(huaweicloud_smn_topic.alarms[*].topic_urn)
  ocr_role          = "OCR FullAccess"
  project_of_region = { for region, found in data.huaweicloud_identity_projects.ocr : region => try(found.projects[0].id, "") }
}

# The project id of each region whose OCR packages are used (OCR_PROJECT_ID, OCR_PROJECT_IDS).
data "huaweicloud_identity_projects" "ocr" {
  for_each = local.ocr_regions
  name     = each.key
}

# ---- buckets and the code object ---------------------------------------------------------

resource "huaweicloud_obs_bucket" "uploads" {
  count         = var.create_upload_bucket ? 1 : 0
  bucket        = var.upload_bucket
  acl           = "private"
  versioning    = true
  force_destroy = false
}

resource "huaweicloud_obs_bucket" "artifacts" {
  bucket        = local.artifacts_bucket
  acl           = "private"
  force_destroy = true
}

resource "huaweicloud_obs_bucket_object" "code" {
  count        = var.code_object_url == "" ? 1 : 0
  bucket       = huaweicloud_obs_bucket.artifacts.bucket
  key          = local.code_key
  source       = var.package_path
  content_type = "application/zip"
  acl          = "private"

  lifecycle {
    precondition {
      condition     = fileexists(var.package_path)
      error_message = "No function zip at package_path: run `make package` first (or set code_object_url)."
    }
  }
}

locals {
  code_url = var.code_object_url != "" ? var.code_object_url : format(
    "https://%s/%s", huaweicloud_obs_bucket.artifacts.bucket_domain_name, one(huaweicloud_obs_bucket_object.code[*].key))
}

# ---- the function agency: least privilege -------------------------------------------------

# OBS is a global service: read of uploads (the exact version when versioned), write of the
# claim-check prefix and of the failure destination, read of the function's own code.
resource "huaweicloud_identity_role" "obs" {
  name        = "${var.name}-obs"
  description = "ocrflow: read uploads of ${var.upload_bucket}, write ${local.artifacts_bucket}/${local.claim_check_path} and ${local.artifacts_bucket}/${local.failed_path}"
  type        = "AX"
  policy = jsonencode({
    Version = "1.1"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["obs:object:GetObject", "obs:object:GetObjectVersion"]
        Resource = ["obs:*:*:object:${var.upload_bucket}/${var.upload_prefix}*"]
      },
      {
        Effect = "Allow"
        Action = ["obs:object:PutObject"]
        Resource = [
          "obs:*:*:object:${local.artifacts_bucket}/${local.claim_check_path}*",
          "obs:*:*:object:${local.artifacts_bucket}/${local.failed_path}*",
        ]
      },
      {
        Effect   = "Allow"
        Action   = ["obs:object:GetObject"]
        Resource = ["obs:*:*:object:${local.artifacts_bucket}/code/*"]
      },
    ]
  })
}

# Cloud Eye custom metrics (OCR_METRICS=ces): ces:metricData:create, in the functions' region.
resource "huaweicloud_identity_role" "metrics" {
  name        = "${var.name}-metrics"
  description = "ocrflow: report OCR usage metrics to Cloud Eye"
  type        = "XA"
  policy = jsonencode({
    Version   = "1.1"
    Statement = [{ Effect = "Allow", Action = ["ces:metricData:create"] }]
  })
}

# Only when the functions join a VPC (DCS, DMS): FunctionGraph's least permissions for it.
resource "huaweicloud_identity_role" "vpc" {
  count       = local.in_vpc ? 1 : 0
  name        = "${var.name}-vpc-access"
  description = "ocrflow: let FunctionGraph attach the functions to ${var.vpc_id}"
  type        = "XA"
  policy = jsonencode({
    Version = "1.1"
    Statement = [{
      Effect = "Allow"
      Action = ["vpc:ports:create", "vpc:ports:delete", "vpc:ports:get", "vpc:vpcs:get", "vpc:subnets:get"]
    }]
  })
}

locals {
  # one project_role per project: OCR in each package region, Cloud Eye (and VPC) where the
  # functions run
  project_roles = {
    for region in setunion(local.ocr_regions, [var.region]) : region => compact(concat(
      contains(local.ocr_regions, region) ? [local.ocr_role] : [],
      region == var.region ? [huaweicloud_identity_role.metrics.name] : [],
      region == var.region ? huaweicloud_identity_role.vpc[*].name : [],
    ))
  }
}

resource "huaweicloud_identity_agency" "function" {
  name                  = "${var.name}-function"
  description           = "ocrflow functions: OCR, OBS uploads and results, Cloud Eye metrics"
  delegated_domain_name = "op_svc_cff" # FunctionGraph
  duration              = "FOREVER"
  domain_roles          = [huaweicloud_identity_role.obs.name]

  dynamic "project_role" {
    for_each = local.project_roles
    content {
      project = project_role.key
      roles   = project_role.value
    }
  }
}

# ---- logs ---------------------------------------------------------------------------------

resource "huaweicloud_lts_group" "functions" {
  group_name  = var.name
  ttl_in_days = var.log_ttl_days
}

resource "huaweicloud_lts_stream" "functions" {
  group_id    = huaweicloud_lts_group.functions.id
  stream_name = "${var.name}-functions"
}

# ---- the functions ------------------------------------------------------------------------

locals {
  queue_urls = {
    result = var.result_queue_url != "" ? var.result_queue_url : (
      var.create_rabbitmq ? local.rabbitmq_url_for["ocr-results"] : (
    var.create_redis ? "${local.redis_url}?stream=ocr-results" : ""))
  }
  failure_queue_url = var.failure_queue_url != "" ? var.failure_queue_url : (
    var.result_queue_url != "" ? "" : (
      var.create_rabbitmq ? local.rabbitmq_url_for["ocr-failures"] : (
  var.create_redis ? "${local.redis_url}?stream=ocr-failures" : "")))
  idempotency_url = var.idempotency_store_url != "" ? var.idempotency_store_url : (
  var.create_redis ? local.redis_url : "")

  # plain variables: no key, no password
  environment = { for k, v in {
    OBJECT_STORE_URL         = "obs://"
    CLAIM_CHECK_URL          = "obs://${local.artifacts_bucket}/${local.claim_check_path}"
    OCR_REGION               = local.ocr_region
    OCR_API_REGIONS          = length(var.ocr_api_regions) > 0 ? jsonencode(var.ocr_api_regions) : ""
    OCR_PROJECT_ID           = local.project_of_region[local.ocr_region]
    OCR_PROJECT_IDS          = jsonencode(local.project_of_region)
    OCR_ROUTES               = var.ocr_routes
    OCR_MAX_CONCURRENCY      = tostring(var.ocr_max_concurrency)
    OCR_MAX_CALLS_PER_DAY    = var.ocr_max_calls_per_day == null ? "" : tostring(var.ocr_max_calls_per_day)
    OCR_MAX_CALLS_PER_SECOND = var.ocr_max_calls_per_second
    OCR_METRICS              = "ces"
    CES_ENDPOINT             = local.ces_endpoint
    OCR_METRICS_NAMESPACE    = var.metrics_namespace
    POWERTOOLS_SERVICE_NAME  = var.name
    POWERTOOLS_LOG_LEVEL     = var.log_level
  } : k => v if v != "" }

  # URLs that may carry a password: FunctionGraph's encrypted variables
  secret_environment = { for k, v in {
    RESULT_QUEUE_URL      = local.queue_urls.result
    FAILURE_QUEUE_URL     = local.failure_queue_url
    IDEMPOTENCY_STORE_URL = local.idempotency_url
  } : k => v if v != "" }
}

locals {
  functions = {
    recognize = {
      name          = local.recognize_name
      handler       = "handler.handler"
      description   = "ocrflow: an upload to ${var.upload_bucket} -> Huawei Cloud OCR -> a result or a coded failure on the queue"
      max_instances = var.max_instances
    }
    redrive = {
      name          = local.redrive_name
      handler       = "redrive_handler.handler"
      description   = "ocrflow: replays failures whose cause is fixed; invoke with {\"codes\": [\"OCRFLOW.BUDGET_EXCEEDED\"]}"
      max_instances = 1
    }
  }
}

resource "huaweicloud_fgs_function" "functions" {
  for_each              = local.functions
  name                  = each.value.name
  app                   = "default"
  description           = each.value.description
  runtime               = "Python3.10"
  handler               = each.value.handler
  memory_size           = var.memory_size
  timeout               = var.timeout
  max_instance_num      = tostring(each.value.max_instances)
  code_type             = "obs"
  code_url              = local.code_url
  functiongraph_version = "v2"
  agency                = huaweicloud_identity_agency.function.name
  user_data             = jsonencode(local.environment)
  encrypted_user_data   = length(local.secret_environment) > 0 ? jsonencode(local.secret_environment) : null
  vpc_id                = local.in_vpc ? var.vpc_id : null
  network_id            = local.in_vpc ? var.subnet_id : null
  enable_lts_log        = true
  log_group_id          = huaweicloud_lts_group.functions.id
  log_group_name        = huaweicloud_lts_group.functions.group_name
  log_stream_id         = huaweicloud_lts_stream.functions.id
  log_stream_name       = huaweicloud_lts_stream.functions.stream_name

  lifecycle {
    precondition {
      condition     = alltrue([for region, id in local.project_of_region : id != ""])
      error_message = "A region of ocr_region / ocr_api_regions has no project in this account: check the region names."
    }
    precondition {
      condition     = local.queue_urls.result != ""
      error_message = "No result queue: set result_queue_url (amqp://, kafka://, redis://), or create_rabbitmq or create_redis = true."
    }
    precondition {
      condition     = local.idempotency_url != ""
      error_message = "Function instances must share an idempotency store: set idempotency_store_url or create_redis = true."
    }
    precondition {
      condition     = !(var.create_redis || var.create_rabbitmq) || (local.in_vpc && var.subnet_id != "")
      error_message = "DCS and DMS instances live in a VPC: set vpc_id and subnet_id."
    }
  }
}

# ---- the trigger: object creation only ----------------------------------------------------

resource "huaweicloud_fgs_trigger" "uploads" {
  count        = var.trigger == "obs" ? 1 : 0
  function_urn = huaweicloud_fgs_function.functions["recognize"].urn
  type         = "OBS"
  status       = "ACTIVE"

  obs {
    bucket_name             = local.upload_bucket
    event_notification_name = "${var.name}-uploads"
    events                  = ["ObjectCreated"]
    prefix                  = var.upload_prefix != "" ? var.upload_prefix : null
    suffix                  = var.upload_suffix != "" ? var.upload_suffix : null
  }
}

data "huaweicloud_eg_event_channels" "official" {
  count         = var.trigger == "eventgrid" ? 1 : 0
  provider_type = "OFFICIAL"
  name          = "default"
}

resource "huaweicloud_fgs_function_trigger" "uploads_eventgrid" {
  count                          = var.trigger == "eventgrid" ? 1 : 0
  function_urn                   = huaweicloud_fgs_function.functions["recognize"].urn
  type                           = "EVENTGRID"
  status                         = "ACTIVE"
  cascade_delete_eg_subscription = true
  event_data = jsonencode({
    channel_id   = data.huaweicloud_eg_event_channels.official[0].channels[0].id
    channel_name = data.huaweicloud_eg_event_channels.official[0].channels[0].name
    source_name  = "HC.OBS.DWR"
    trigger_name = "${var.name}-uploads"
    agency       = var.eventgrid_trigger_agency
    bucket       = local.upload_bucket
    event_types  = ["OBS:DWR:ObjectCreated:PUT", "OBS:DWR:ObjectCreated:POST"]
    Key_encode   = true
  })

  lifecycle {
    # FunctionGraph does not return every field of event_data
    ignore_changes = [event_data]
    precondition {
      condition     = var.upload_prefix == "" && var.upload_suffix == ""
      error_message = "upload_prefix and upload_suffix are applied by the OBS trigger; with trigger = eventgrid every upload of the bucket is delivered: leave them empty, or use trigger = obs."
    }
  }
}

# ---- asynchronous invocation: retries, event age, a failure destination -------------------

resource "huaweicloud_fgs_async_invoke_configuration" "recognize" {
  function_urn                   = huaweicloud_fgs_function.functions["recognize"].urn
  max_async_retry_attempts       = var.max_async_retry_attempts
  max_async_event_age_in_seconds = var.max_async_event_age_seconds
  enable_async_status_log        = true

  on_failure {
    destination = var.failure_destination
    param = var.failure_destination == "OBS" ? jsonencode({
      bucket  = huaweicloud_obs_bucket.artifacts.bucket
      prefix  = local.failed_path
      expires = 0
    }) : jsonencode({ topic_urn = local.alarm_topic_urn })
  }
}
