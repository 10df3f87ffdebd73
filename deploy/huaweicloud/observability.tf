# Alarms: function errors (FunctionGraph's own metric) and failed OCR calls (the custom metrics
# the functions report with OCR_METRICS=ces), told through one SMN topic.

resource "huaweicloud_smn_topic" "alarms" {
  count        = var.alarm_topic_urn == "" ? 1 : 0
  name         = "${var.name}-alarms"
  display_name = "ocrflow alarms (${var.name})"
}

resource "huaweicloud_smn_subscription" "alarm_email" {
  count     = var.alarm_email != "" ? 1 : 0
  topic_urn = local.alarm_topic_urn
  protocol  = "email"
  endpoint  = var.alarm_email
  remark    = "ocrflow alarms"
}

# SYS.FunctionGraph failcount, dimension package-functionname = "<app>-<function>"
# (FunctionGraph's metrics reported to Cloud Eye).
resource "huaweicloud_ces_alarmrule" "function_errors" {
  for_each             = { for key, function in local.functions : key => function.name }
  alarm_name           = "${each.value}-errors"
  alarm_description    = "${each.value} failed: records not published are retried, then kept by the failure destination"
  alarm_type           = "MULTI_INSTANCE"
  alarm_enabled        = true
  alarm_action_enabled = true

  metric {
    namespace = "SYS.FunctionGraph"
  }

  resources {
    dimensions {
      name  = "package-functionname"
      value = "default-${each.value}"
    }
  }

  condition {
    metric_name         = "failcount"
    period              = 300
    filter              = "sum"
    comparison_operator = ">="
    value               = var.function_error_threshold
    unit                = "Count"
    count               = 1
    suppress_duration   = 3600
    alarm_level         = 2
  }

  alarm_actions {
    type              = "notification"
    notification_list = [local.alarm_topic_urn]
  }

  depends_on = [huaweicloud_fgs_function.functions]
}

# OcrCallsFailed of any API and region (dimensions api, region), the same name as the EMF metric.
resource "huaweicloud_ces_alarmrule" "ocr_failures" {
  alarm_name           = "${var.name}-ocr-failures"
  alarm_description    = "OCR calls failing (throttling, 5xx, refused inputs, account state): see the failure queue and the logs"
  alarm_type           = "ALL_INSTANCE"
  alarm_enabled        = true
  alarm_action_enabled = true

  metric {
    namespace = var.metrics_namespace
  }

  resources {
    dimensions {
      name = "api"
    }
    dimensions {
      name = "region"
    }
  }

  condition {
    metric_name         = "OcrCallsFailed"
    period              = 300
    filter              = "sum"
    comparison_operator = ">="
    value               = var.ocr_failure_threshold
    unit                = "Count"
    count               = 1
    suppress_duration   = 3600
    alarm_level         = 2
  }

  alarm_actions {
    type              = "notification"
    notification_list = [local.alarm_topic_urn]
  }
}
