"""Django admin: the audit trail, read only."""

from django.contrib import admin

from dashboard.writes.models import AuditRecord


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    list_display = ("created_at", "username", "cluster", "action", "target", "status")
    list_filter = ("action", "status", "cluster")
    search_fields = ("username", "target")
    readonly_fields = [f.name for f in AuditRecord._meta.fields]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        # The trail is evidence: nobody edits or deletes it from the UI.
        return False
