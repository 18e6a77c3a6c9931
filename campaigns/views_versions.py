"""Pages for campaign iteration: the next version of a launched campaign and the versions'
results side by side. Both are platform work, because the results count every task."""

import logging

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.permissions import PLATFORM, role_required

from . import services
from .forms import CampaignForm, next_version_initial
from .selectors import campaign_get_for
from .versions import campaign_version_chain, version_results

logger = logging.getLogger(__name__)


@role_required(*PLATFORM)
def campaign_next_version(request, pk):
    """Show the design of a launched campaign as a form (GET) and save it as its next version (POST)."""
    source = campaign_get_for(user=request.user, pk=pk)
    if request.method == "POST":
        form = CampaignForm(request.POST)
        if form.is_valid():
            try:
                clone = services.campaign_clone(campaign=source, actor=request.user, data=form.cleaned_data)
            except services.CampaignServiceError as error:
                messages.error(request, str(error))
                logger.info("Campaign %s: next version by user %s rejected: %s", source.pk, request.user.pk, error)
            else:
                messages.success(
                    request, _("Campaign “%(campaign)s” created as a draft and linked as the next version.")
                    % {"campaign": clone}
                )
                return redirect("campaigns:detail", pk=clone.pk)
    else:
        form = CampaignForm(initial=next_version_initial(campaign=source, today=timezone.localdate()))
        form.initial["name"] = _("%(campaign)s (version %(number)s)") % {
            "campaign": source.name, "number": len(campaign_version_chain(campaign=source)) + 1,
        }
    return render(request, "campaigns/campaign_form.html", {"form": form, "source": source})


@role_required(*PLATFORM)
def campaign_versions(request, pk):
    """Compare the results of every version in the campaign's chain side by side."""
    campaign = campaign_get_for(user=request.user, pk=pk)
    chain = campaign_version_chain(campaign=campaign)
    return render(
        request,
        "campaigns/campaign_versions.html",
        {"campaign": campaign, "versions": version_results(campaigns=chain)},
    )
