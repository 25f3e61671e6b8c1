"""The helpdesk's capacity grid in the site editor (docs/OPERATIONS.md, "Helpdesk
capacity"): labelled inputs, saving, and field errors naming the cell."""

from __future__ import annotations

import re
from typing import Any

from cartassist.carts.models.helpdesk import office_hours_grid
from cartassist.models import HelpdeskCapacity
from tests.cartassist.test_admin_branding import SITE_URL, posted_back
from tests.cartassist.test_admin_branding import edit_site as edit

PREFIX = "helpdesk_capacity-0-hourly"


def cells(grid: list[list[int]]) -> dict[str, str]:
    return {f"{PREFIX}_{d}_{h}": str(grid[d][h]) for d in range(7) for h in range(24)}


def test_the_site_editor_shows_a_labelled_grid_of_168_inputs(admin_client, site):
    # when
    page = admin_client.get(SITE_URL.format(pk=site.pk)).content.decode()
    # then: one input per weekday and hour, each named by its weekday and hour
    inputs = re.findall(r'<input type="number"[^>]*name="helpdesk_capacity-0-hourly_[^>]*>', page)
    assert len(inputs) == 168
    assert 'aria-label="Monday 09:00–10:00" title="Monday 09:00–10:00"' in page
    # the new row starts from the default grid: 10 an hour on weekdays 09–18 h
    assert re.search(r'name="helpdesk_capacity-0-hourly_0_9"[^>]*value="10"', page)
    assert 'aria-label="Sunday 23:00–00:00"' in page
    assert '<th scope="row">Wednesday</th>' in page
    assert "siteadmin/capacity-grid." in page  # hashed in production


def test_the_grid_and_the_switch_are_saved(admin_client, site):
    # given: the office grid with Saturday 10:00 at 4 and Monday 09:00 at 25
    grid = office_hours_grid()
    grid[5][10], grid[0][9] = 4, 25
    # when
    response = edit(
        admin_client, site, **cells(grid), **{"helpdesk_capacity-0-pacing_enabled": "on"}
    )
    # then
    assert response.status_code == 302
    capacity = HelpdeskCapacity.objects.get(site=site)
    assert capacity.pacing_enabled is True
    assert capacity.hourly == grid


def test_a_site_saved_without_touching_the_grid_gets_no_capacity(admin_client, site):
    response = edit(admin_client, site, name="Renamed")
    assert response.status_code == 302
    assert not HelpdeskCapacity.objects.exists()


def test_cells_that_are_not_whole_numbers_are_named_and_nothing_is_saved(admin_client, site):
    # given: an existing capacity
    HelpdeskCapacity.objects.create(site=site, hourly=office_hours_grid())
    grid: list[list[Any]] = office_hours_grid()
    grid[1][14], grid[6][0] = "-1", "2.5"
    # when
    response = edit(admin_client, site, **cells(grid))
    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert "Enter a whole number from 0 to 100000 at: Tuesday 14:00, Sunday 00:00." in page
    assert HelpdeskCapacity.objects.get(site=site).hourly == office_hours_grid()


def test_saving_the_grid_keeps_a_queue_reported_meanwhile(admin_client, site):
    # given: the editor loaded, then the helpdesk reported its queue
    HelpdeskCapacity.objects.create(site=site, hourly=office_hours_grid())
    url = SITE_URL.format(pk=site.pk)
    page = admin_client.get(url)
    HelpdeskCapacity.objects.filter(site=site).update(open_contacts=9)
    grid = office_hours_grid()
    grid[2][12] = 1
    # when
    response = admin_client.post(url, posted_back(page, **cells(grid)))
    # then
    assert response.status_code == 302
    capacity = HelpdeskCapacity.objects.get(site=site)
    assert (capacity.hourly[2][12], capacity.open_contacts) == (1, 9)
