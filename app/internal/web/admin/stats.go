package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// The visit statistics page: the last 30 days as a bar chart drawn on the
// server as SVG (no script), with a title and a description for screen
// readers and the same figures as a table, then the most read pages.

// statsDays is how many days the chart shows.
const statsDays = 30

// Chart geometry, in SVG user units.
const (
	chartW, chartH   = 720, 240
	chartLeft        = 44 // room for the axis labels
	chartBottom      = 24
	chartTop         = 10
	chartPlotH       = chartH - chartBottom - chartTop
	chartSlot        = (chartW - chartLeft) / statsDays
	chartBarW        = (chartSlot - 4) / 2
	chartLabelsEvery = 7
)

type chartBar struct {
	X, Y, H int
	Title   string
}

type chartTick struct {
	Y     int
	Label int64
}

type chartLabel struct {
	X    int
	Text string
}

type statsPage struct {
	Days                []tenantdb.DayStats
	Pages               []tenantdb.PageStats
	Views, Visitors     int64 // over the days
	Busiest             tenantdb.DayStats
	From, To            string
	ViewBars, VisitBars []chartBar
	Ticks               []chartTick
	Labels              []chartLabel
	W, H, Left, Base    int
	BarW                int
}

// showStats: GET /admin/stats.
func (h *Handler) showStats(c echo.Context) error {
	ctx, db := c.Request().Context(), httpx.DB(c)
	now := h.now().UTC()
	to := now.Format(tenantdb.DateLayout)
	from := now.AddDate(0, 0, -(statsDays - 1)).Format(tenantdb.DateLayout)
	// The counts still in memory are written first, so the page is
	// current; it is the only reader that needs them at once. A frozen
	// site's file is not written.
	if httpx.Tenant(c).Status != catalog.StatusFrozen {
		if err := db.FlushStats(ctx); err != nil {
			return err
		}
	}
	days, err := db.StatsDays(ctx, from, to)
	if err != nil {
		return err
	}
	pages, err := db.StatsPages(ctx, from, to, 20)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "stats.html", "Visits", "stats", chart(days, pages, from, to))
}

// chart lays out the bars of days: views and visitors side by side, on a
// scale whose top is a round number.
func chart(days []tenantdb.DayStats, pages []tenantdb.PageStats, from, to string) statsPage {
	p := statsPage{Days: days, Pages: pages, From: from, To: to, W: chartW, H: chartH, Left: chartLeft,
		Base: chartH - chartBottom, BarW: chartBarW}
	var top int64
	for _, d := range days {
		p.Views += d.Views
		p.Visitors += d.Visitors
		top = max(top, d.Views)
		if d.Views > p.Busiest.Views {
			p.Busiest = d
		}
	}
	top = niceCeil(top)
	height := func(n int64) int { return int(n * chartPlotH / top) }
	for i, d := range days {
		x := chartLeft + i*chartSlot + 2
		day, _ := time.Parse(tenantdb.DateLayout, d.Day)
		label := day.Format("Jan 2")
		hv, hu := height(d.Views), height(d.Visitors)
		p.ViewBars = append(p.ViewBars, chartBar{X: x, Y: p.Base - hv, H: hv, Title: label + ": " + plural(d.Views, "view")})
		p.VisitBars = append(p.VisitBars, chartBar{X: x + chartBarW, Y: p.Base - hu, H: hu, Title: label + ": " + plural(d.Visitors, "visitor")})
		if (len(days)-1-i)%chartLabelsEvery == 0 {
			p.Labels = append(p.Labels, chartLabel{X: x + chartBarW, Text: label})
		}
	}
	for i := int64(0); i <= 4; i++ {
		p.Ticks = append(p.Ticks, chartTick{Y: p.Base - int(i*chartPlotH/4), Label: top * i / 4})
	}
	return p
}

// niceCeil is the smallest of 4, 8, 20, 40, 80, 200, ... (four equal
// steps of a round number) at or above n.
func niceCeil(n int64) int64 {
	for base := int64(1); ; base *= 10 {
		for _, m := range []int64{4, 8, 20} {
			if n <= m*base {
				return m * base
			}
		}
	}
}

func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.FormatInt(n, 10) + " " + noun + "s"
}
